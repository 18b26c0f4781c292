// Monitoring and early warning (ALM-2/3/4): warning list (live), rules, station charts.
// NotificationBell.vue is exported for the shared top bar (placed by the lead).
import messages from './messages'

export default {
  key: 'warnings',
  perm: 'warnings:read',
  view: () => import('./WarningsView.vue'),
  children: [
    { path: 'warnings/rules', name: 'console-warnings-rules', component: () => import('./RulesView.vue') },
    { path: 'warnings/stations', name: 'console-warnings-stations', component: () => import('./StationsView.vue'), meta: { perm: 'monitoring:read' } },
  ],
  messages,
}
