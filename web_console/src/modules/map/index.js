// The map module (MAP-10/11/12, CMD-7): the console page /console/map with the area search, dispersion and
// river tools. Its BaseMap component (components/BaseMap.vue) is the map every other page embeds.
import messages from './messages'

export default {
  key: 'map',
  perm: 'map:read',
  view: () => import('./MapView.vue'),
  messages,
}
