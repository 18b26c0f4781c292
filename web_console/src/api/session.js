// Token storage and refresh. Plain module (no Vue) so that the HTTP client, the
// socket layer and the pinia auth store can all share one source of truth.
//
// localStorage key `ecs.auth` = {access_token, refresh_token, expires_at (ms epoch), user}

export const STORAGE_KEY = 'ecs.auth'
// refresh this long before expiry (at most a fifth of the token's lifetime)
const REFRESH_MARGIN_MS = 30_000

let state = load()
let refreshing = null
const changeListeners = new Set()
const lostListeners = new Set()

function load() {
  try {
    const raw = localStorage.getItem(STORAGE_KEY)
    if (!raw) return null
    const data = JSON.parse(raw)
    if (!data || !data.access_token || !data.refresh_token) return null
    return data
  } catch {
    return null
  }
}

function persist() {
  try {
    if (state) localStorage.setItem(STORAGE_KEY, JSON.stringify(state))
    else localStorage.removeItem(STORAGE_KEY)
  } catch {
    /* storage full or disabled: keep the in-memory copy */
  }
  changeListeners.forEach((fn) => fn(state))
}

export function getSession() {
  return state
}

export function getAccessToken() {
  return state ? state.access_token : null
}

export function getUser() {
  return state ? state.user || null : null
}

/** Store a login/refresh response ({access_token, refresh_token, expires_in, user}). */
export function setTokens(resp) {
  const expiresIn = Number(resp.expires_in) || 900
  state = {
    access_token: resp.access_token,
    refresh_token: resp.refresh_token,
    expires_at: Date.now() + expiresIn * 1000,
    ttl_ms: expiresIn * 1000,
    user: resp.user || (state && state.user) || null,
  }
  persist()
}

export function setUser(user) {
  if (!state) return
  state = { ...state, user }
  persist()
}

export function clearSession() {
  state = null
  persist()
}

export function onSessionChange(fn) {
  changeListeners.add(fn)
  return () => changeListeners.delete(fn)
}

/** Called when the session is lost for good (refresh failed). */
export function onSessionLost(fn) {
  lostListeners.add(fn)
  return () => lostListeners.delete(fn)
}

export function sessionLost() {
  const had = !!state
  clearSession()
  if (had) lostListeners.forEach((fn) => fn())
}

function expiresSoon(s) {
  if (!s || !s.expires_at) return true
  const margin = Math.min(REFRESH_MARGIN_MS, (s.ttl_ms || 900_000) / 5)
  return s.expires_at - Date.now() < margin
}

export class AuthLostError extends Error {
  constructor(message = 'session_lost') {
    super(message)
    this.name = 'AuthLostError'
    this.status = 401
    this.code = 'session_lost'
  }
}

async function doRefresh(failedAccessToken) {
  // Another tab may have refreshed already (the refresh token rotates, so only
  // one refresh may use it): adopt its tokens when they are newer.
  const stored = load()
  if (stored && state && stored.refresh_token !== state.refresh_token) {
    state = stored
    changeListeners.forEach((fn) => fn(state))
  } else if (stored && !state) {
    state = stored
  }
  if (!state) throw new AuthLostError()
  if (failedAccessToken && state.access_token !== failedAccessToken && !expiresSoon(state)) {
    return state.access_token
  }
  let resp
  try {
    resp = await fetch('/api/v1/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ refresh_token: state.refresh_token }),
    })
  } catch (e) {
    // Network trouble: keep the session, let the caller retry later.
    throw e
  }
  if (resp.ok) {
    const data = await resp.json()
    setTokens(data)
    return state.access_token
  }
  if (resp.status >= 500) {
    const err = new Error(`refresh failed (${resp.status})`)
    err.status = resp.status
    throw err
  }
  sessionLost()
  throw new AuthLostError()
}

/**
 * Refresh the access token once (concurrent callers share one request; across
 * tabs a Web Lock serialises the rotation when the browser supports it).
 */
export function refreshTokens(failedAccessToken = null) {
  if (!refreshing) {
    const run = () => doRefresh(failedAccessToken)
    const locked =
      typeof navigator !== 'undefined' && navigator.locks && navigator.locks.request
        ? navigator.locks.request('ecs.auth.refresh', run)
        : run()
    refreshing = Promise.resolve(locked).finally(() => {
      refreshing = null
    })
  }
  return refreshing
}

/** Returns a usable access token, refreshing proactively when it is about to expire. */
export async function ensureFreshToken() {
  if (!state) return null
  if (expiresSoon(state)) {
    try {
      return await refreshTokens()
    } catch (e) {
      if (e instanceof AuthLostError) throw e
      return state ? state.access_token : null
    }
  }
  return state.access_token
}

// Keep tabs in sync (login/logout/refresh in another tab).
if (typeof window !== 'undefined') {
  window.addEventListener('storage', (ev) => {
    if (ev.key !== STORAGE_KEY) return
    const before = state
    state = load()
    changeListeners.forEach((fn) => fn(state))
    if (before && !state) lostListeners.forEach((fn) => fn())
  })
}
