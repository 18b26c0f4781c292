import { createRouter, createWebHistory } from 'vue-router'
import { useAuthStore, CONSOLE_ROLES, MOBILE_ROLES, SCREEN_ROLES } from '@/stores/auth'

import { MODULES, moduleFor } from '@/modules/registry'
import LoginView from '@/views/LoginView.vue'
import NotFoundView from '@/views/NotFoundView.vue'

const ConsoleLayout = () => import('@/layouts/ConsoleLayout.vue')
const MobileLayout = () => import('@/layouts/MobileLayout.vue')
const ScreenLayout = () => import('@/layouts/ScreenLayout.vue')
const Placeholder = () => import('@/views/console/PlaceholderView.vue')

/** Console modules in navigation order. `built: false` ones show a placeholder. */
export const CONSOLE_MODULES = [
  { key: 'home', path: '', icon: 'HomeFilled', built: true },
  { key: 'duty', path: 'duty', icon: 'Calendar' },
  { key: 'alarms', path: 'alarms', icon: 'PhoneFilled' },
  { key: 'warnings', path: 'warnings', icon: 'WarningFilled' },
  { key: 'incidents', path: 'incidents', icon: 'Flag' },
  { key: 'plans', path: 'plans', icon: 'Document' },
  { key: 'map', path: 'map', icon: 'MapLocation' },
  { key: 'video', path: 'video', icon: 'VideoCamera' },
  { key: 'consultation', path: 'consultation', icon: 'ChatDotSquare' },
  { key: 'contacts', path: 'contacts', icon: 'Notebook', built: true, perm: 'contacts:read' },
  { key: 'events', path: 'events', icon: 'Bell', built: true, perm: 'events:read' },
  { key: 'system', path: 'system', icon: 'Setting' },
]

// A module folder under src/modules/ makes its entry "built" (see modules/registry.js).
for (const m of CONSOLE_MODULES) {
  const mod = moduleFor(m.key)
  if (mod) Object.assign(m, { built: true, perm: mod.perm || m.perm })
}

const consoleChildren = CONSOLE_MODULES.map((m) => {
  const meta = { module: m.key, perm: m.perm }
  const mod = moduleFor(m.key)
  if (mod?.view) return { path: m.path, name: `console-${m.key}`, component: mod.view, meta }
  if (m.key === 'contacts') return { path: m.path, name: 'console-contacts', component: () => import('@/views/console/ContactsView.vue'), meta }
  if (m.key === 'events') return { path: m.path, name: 'console-events', component: () => import('@/views/console/EventsView.vue'), meta }
  return { path: m.path, name: `console-${m.key}`, component: Placeholder, meta }
})

const routes = [
  { path: '/', name: 'root', component: NotFoundView, meta: { rootRedirect: true } },
  { path: '/login', name: 'login', component: LoginView, meta: { public: true } },
  {
    path: '/console',
    component: ConsoleLayout,
    meta: { roles: CONSOLE_ROLES },
    children: [
      ...consoleChildren,
      ...MODULES.flatMap((m) => (m.children || []).map((r) => ({ ...r, meta: { module: m.key, perm: m.perm, ...r.meta } }))),
      { path: ':pathMatch(.*)*', name: 'console-not-found', component: NotFoundView },
    ],
  },
  {
    path: '/m',
    component: MobileLayout,
    meta: { roles: MOBILE_ROLES },
    children: [
      { path: '', redirect: { name: 'm-tasks' } },
      { path: 'tasks', name: 'm-tasks', component: () => import('@/views/mobile/TasksView.vue'), meta: { tab: 'tasks' } },
      { path: 'map', name: 'm-map', component: () => import('@/views/mobile/MapView.vue'), meta: { tab: 'map' } },
      { path: 'contacts', name: 'm-contacts', component: () => import('@/views/mobile/ContactsView.vue'), meta: { tab: 'contacts', perm: 'contacts:read' } },
      { path: 'me', name: 'm-me', component: () => import('@/views/mobile/MeView.vue'), meta: { tab: 'me' } },
      ...MODULES.flatMap((m) => m.mobileRoutes || []),
      { path: ':pathMatch(.*)*', redirect: { name: 'm-tasks' } },
    ],
  },
  { path: '/screen', name: 'screen', component: ScreenLayout, meta: { roles: SCREEN_ROLES } },
  { path: '/no-access', name: 'no-access', component: NotFoundView, meta: { public: true, kind: 'noAccess' } },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: NotFoundView, meta: { public: true } },
]

export const router = createRouter({
  history: createWebHistory('/'),
  routes,
  scrollBehavior: () => ({ top: 0 }),
})

router.beforeEach(async (to) => {
  const auth = useAuthStore()
  if (to.name === 'login') {
    if (auth.authenticated) {
      const user = await auth.ensureUser()
      if (user) return auth.homePath
    }
    return true
  }
  if (to.meta.public) return true
  if (!auth.authenticated) {
    return { name: 'login', query: to.fullPath && to.fullPath !== '/' ? { redirect: to.fullPath } : {} }
  }
  const user = await auth.ensureUser()
  if (!user) return { name: 'login', query: { redirect: to.fullPath } }
  if (to.meta.rootRedirect) return auth.homePath

  // a layout this role may not open → its own home
  for (const rec of to.matched) {
    if (rec.meta.roles && !auth.hasAnyRole(rec.meta.roles)) {
      const home = auth.homePath
      return to.path.startsWith(home) ? { name: 'no-access' } : home
    }
  }
  // a page that needs a permission the user lacks → the layout's home
  const perm = to.matched.map((r) => r.meta.perm).find(Boolean)
  if (perm && !auth.hasPerm(perm)) {
    if (to.path.startsWith('/console')) return to.name === 'console-home' ? true : { name: 'console-home' }
    if (to.path.startsWith('/m')) return { name: 'm-tasks' }
    return auth.homePath
  }
  return true
})
