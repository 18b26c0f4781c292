// Incidents (CMD-1): the incident list (/console/incidents), a new incident (/console/incidents/new?alarm_ids=1,2,
// prefilled from the alarms) and the incident workspace (/console/incidents/:id): summary, level suggestion and
// decision, state buttons, live timeline, tasks, reports upward, forwarding / lead unit and the plans panel.
import messages from './messages'

export default {
  key: 'incidents',
  perm: 'incidents:read',
  view: () => import('./IncidentListView.vue'),
  children: [
    { path: 'incidents/new', name: 'console-incident-new', component: () => import('./IncidentNewView.vue'), meta: { perm: 'incidents:write' } },
    { path: 'incidents/:id(\\d+)', name: 'console-incident', component: () => import('./IncidentWorkspace.vue'), props: true },
  ],
  messages,
}
