// Duty (DUTY-1, 3, 4): the console page /console/duty (roster, log, handovers, statistics), the mobile page
// /m/duty, and TodayOnDuty.vue — the "on duty now" card the home page, mobile H5 and big screen import.
import messages from './messages'

export default {
  key: 'duty',
  perm: 'duty:read',
  view: () => import('./DutyView.vue'),
  mobileRoutes: [
    { path: 'duty', name: 'm-duty', component: () => import('./MobileDutyView.vue'), meta: { tab: 'duty', perm: 'duty:read' } },
  ],
  screenPanels: { todayOnDuty: () => import('./TodayOnDuty.vue') },
  messages,
}
