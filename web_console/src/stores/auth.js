import { defineStore } from 'pinia'
import { authApi } from '@/api'
import { getSession, getUser, setTokens, setUser, clearSession, onSessionChange } from '@/api/session'

export const CONSOLE_ROLES = ['admin', 'commander', 'operator', 'enterprise']
export const MOBILE_ROLES = ['field', 'pilot', 'commander', 'operator', 'admin']
export const SCREEN_ROLES = ['screen', 'admin', 'commander', 'operator']

/** Where a user lands after login (and when a layout is refused). */
export function homePathFor(user) {
  const roles = (user && user.roles) || []
  if (roles.includes('field') || roles.includes('pilot')) {
    // pure field staff; a commander who is also 'field' still gets the console
    if (!roles.some((r) => ['admin', 'commander', 'operator'].includes(r))) return '/m'
  }
  if (roles.some((r) => CONSOLE_ROLES.includes(r))) return '/console'
  if (roles.includes('screen')) return '/screen'
  if (roles.some((r) => MOBILE_ROLES.includes(r))) return '/m'
  return '/console'
}

export const useAuthStore = defineStore('auth', {
  state: () => ({
    user: getUser(),
    authenticated: !!getSession(),
    meLoaded: false,
  }),
  getters: {
    roles: (s) => (s.user && s.user.roles) || [],
    permissions: (s) => new Set((s.user && s.user.permissions) || []),
    homePath: (s) => homePathFor(s.user),
    displayName: (s) => (s.user && (s.user.display_name || s.user.username)) || '',
  },
  actions: {
    /** Wire session changes (refresh in this/another tab, logout elsewhere) into the store. */
    bind() {
      onSessionChange((session) => {
        this.authenticated = !!session
        if (session && session.user) this.user = session.user
        if (!session) {
          this.user = null
          this.meLoaded = false
        }
      })
    },
    hasPerm(p) {
      return this.permissions.has(p)
    },
    hasAnyRole(list) {
      return this.roles.some((r) => list.includes(r))
    },
    /** Throws ApiError; on success stores tokens and the user. */
    async login(username, password, totp) {
      const resp = await authApi.login(username, password, totp)
      setTokens(resp)
      this.user = resp.user || null
      this.authenticated = true
      this.meLoaded = !!resp.user
      return resp
    },
    async fetchMe() {
      const me = await authApi.me()
      const user = me && me.user ? me.user : me
      this.user = user
      setUser(user)
      this.meLoaded = true
      return user
    },
    /** Refresh the user once per page load; keep the cached copy on network trouble. */
    async ensureUser() {
      if (!this.authenticated) return null
      if (this.meLoaded && this.user) return this.user
      try {
        return await this.fetchMe()
      } catch (e) {
        if (e && e.status === 401) return null
        return this.user
      }
    },
    async logout() {
      const session = getSession()
      try {
        if (session && session.refresh_token) await authApi.logout(session.refresh_token)
      } catch {
        /* the local logout happens regardless */
      }
      clearSession()
      this.user = null
      this.authenticated = false
      this.meLoaded = false
    },
  },
})
