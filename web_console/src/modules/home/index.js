// The console home page (/console): today's duty, open warnings, open incidents with red/amber/green status,
// this year's counts, and the live event feed. Cards whose module is not installed yet stay empty quietly.
import messages from './messages'

export default {
  key: 'home',
  view: () => import('./HomeView.vue'),
  messages,
}
