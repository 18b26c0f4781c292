// Alarm intake (ALM-1, ALM-5): the console page /console/alarms — a fast intake form, duplicate suggestions
// with merge, the alarm list with filters, a detail drawer, and the hand-over to incidents (a "create incident"
// button that opens /console/incidents/new?alarm_ids=1,2, owned by the incidents module).
import messages from './messages'

export default {
  key: 'alarms',
  perm: 'alarms:read',
  view: () => import('./AlarmsView.vue'),
  messages,
}
