// Fetch wrapper: JSON in/out, bearer token, one refresh-and-retry on `token_expired`,
// errors normalised to ApiError {status, code, message, details}.
import { ensureFreshToken, getAccessToken, refreshTokens, sessionLost, AuthLostError } from './session'

const NON_SESSION_401 = new Set(['totp_invalid', 'totp_required', 'invalid_credentials', 'invalid_code'])

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || `HTTP ${status}`)
    this.name = 'ApiError'
    this.status = status
    this.code = code || (status ? `http_${status}` : 'network_error')
    this.details = details || {}
  }
}

export function buildUrl(url, query) {
  if (!query) return url
  const params = new URLSearchParams()
  Object.entries(query).forEach(([k, v]) => {
    if (v === undefined || v === null || v === '') return
    params.append(k, String(v))
  })
  const qs = params.toString()
  if (!qs) return url
  return url + (url.includes('?') ? '&' : '?') + qs
}

async function parseError(resp) {
  let body = null
  try {
    const text = await resp.text()
    body = text ? JSON.parse(text) : null
  } catch {
    body = null
  }
  const e = body && body.error ? body.error : {}
  return new ApiError(resp.status, e.code, e.message, e.details)
}

/**
 * request(method, url, {query, body, form, auth = true, raw = false})
 *  - body: JSON-serialised; form: a FormData sent as multipart.
 *  - raw: resolve with the Response (for downloads).
 */
export async function request(method, url, opts = {}) {
  const { query, body, form, auth = true, raw = false, signal } = opts
  const fullUrl = buildUrl(url, query)

  const send = async (token) => {
    const headers = { Accept: 'application/json' }
    let payload
    if (form) payload = form
    else if (body !== undefined) {
      headers['Content-Type'] = 'application/json'
      payload = JSON.stringify(body)
    }
    if (auth && token) headers.Authorization = `Bearer ${token}`
    try {
      return await fetch(fullUrl, { method, headers, body: payload, signal })
    } catch (e) {
      if (e && e.name === 'AbortError') throw e
      throw new ApiError(0, 'network_error', e && e.message)
    }
  }

  let token = null
  if (auth) {
    try {
      token = await ensureFreshToken()
    } catch (e) {
      if (e instanceof AuthLostError) throw new ApiError(401, 'session_lost', 'session lost')
      throw e
    }
  }
  let resp = await send(token)

  if (auth && resp.status === 401) {
    const err = await parseError(resp)
    if (err.code === 'token_expired') {
      try {
        const fresh = await refreshTokens(token)
        resp = await send(fresh)
      } catch (e) {
        if (e instanceof AuthLostError) throw new ApiError(401, 'session_lost', 'session lost')
        if (e instanceof ApiError) throw e
        throw new ApiError(0, 'network_error', e && e.message)
      }
      if (resp.status === 401) {
        const again = await parseError(resp)
        sessionLost()
        throw again
      }
    } else {
      // A 401 about the token itself means the session is gone; other 401s
      // (e.g. a wrong TOTP code on confirm/disable) are ordinary errors.
      if (!NON_SESSION_401.has(err.code) && getAccessToken()) sessionLost()
      throw err
    }
  }

  if (!resp.ok) throw await parseError(resp)
  if (raw) return resp
  if (resp.status === 204) return null
  const ct = resp.headers.get('content-type') || ''
  if (ct.includes('json')) return resp.json()
  const text = await resp.text()
  return text || null
}

export const http = {
  get: (url, opts) => request('GET', url, opts),
  post: (url, body, opts = {}) => request('POST', url, { ...opts, body }),
  patch: (url, body, opts = {}) => request('PATCH', url, { ...opts, body }),
  put: (url, body, opts = {}) => request('PUT', url, { ...opts, body }),
  delete: (url, opts) => request('DELETE', url, opts),
  upload: (url, form, opts = {}) => request('POST', url, { ...opts, form }),
}

/** Download a file through the authenticated client and save it with its server-given name. */
export async function download(url, query, fallbackName) {
  const resp = await request('GET', url, { query, raw: true })
  const blob = await resp.blob()
  let name = fallbackName
  const cd = resp.headers.get('content-disposition') || ''
  const star = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(cd)
  const plain = /filename="?([^";]+)"?/i.exec(cd)
  try {
    if (star) name = decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''))
    else if (plain) name = plain[1].trim()
  } catch {
    /* keep fallback */
  }
  const href = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = href
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(href), 10_000)
  return name
}
