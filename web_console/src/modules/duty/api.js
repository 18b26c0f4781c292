// The duty endpoints (see command_server/duty/routes.py).
import { http, download } from '@/api/http'

const V1 = '/api/v1/duty'

export const dutyApi = {
  templates: () => http.get(`${V1}/templates`),
  createTemplate: (data) => http.post(`${V1}/templates`, data),
  updateTemplate: (id, data) => http.patch(`${V1}/templates/${id}`, data),
  deleteTemplate: (id) => http.delete(`${V1}/templates/${id}`),
  generate: (data) => http.post(`${V1}/roster/generate`, data),
  roster: (query) => http.get(`${V1}/roster`, { query }),
  exportXlsx: (query) => download(`${V1}/roster/export.xlsx`, query, 'duty-roster.xlsx'),
  assign: (shiftId, positionKey, personId) =>
    http.post(`${V1}/shifts/${shiftId}/assignments`, { position_key: positionKey, person_id: personId }),
  candidates: (shiftId, positionKey) => http.get(`${V1}/shifts/${shiftId}/candidates`, { query: { position_key: positionKey } }),
  replace: (assignmentId, personId) => http.patch(`${V1}/assignments/${assignmentId}`, { person_id: personId }),
  unassign: (assignmentId) => http.delete(`${V1}/assignments/${assignmentId}`),
  today: (query) => http.get(`${V1}/today`, { query }),
  log: (query) => http.get(`${V1}/log`, { query }),
  addLog: (data) => http.post(`${V1}/log`, data),
  handovers: (query) => http.get(`${V1}/handovers`, { query }),
  createHandover: (data) => http.post(`${V1}/handovers`, data),
  ack: (id, remark) => http.post(`${V1}/handovers/${id}/ack`, { remark: remark || null }),
  stats: (query) => http.get(`${V1}/stats`, { query }),
}

export const DUTY_ROLES = ['leader', 'officer', 'driver', 'monitor', 'expert', 'liaison']
export const LOG_CATEGORIES = ['intake', 'disposal', 'handover', 'other']
export const CATEGORY_TAG = { intake: 'danger', disposal: 'warning', handover: 'success', other: 'info' }

/** 'YYYY-MM-DD' of a Date in Asia/Shanghai. */
export function shanghaiDay(d = new Date()) {
  const p = {}
  for (const x of new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(d)) p[x.type] = x.value
  return `${p.year}-${p.month}-${p.day}`
}

/** Add days to a 'YYYY-MM-DD' string (calendar arithmetic, no zone involved). */
export function addDays(day, n) {
  const [y, m, d] = day.split('-').map(Number)
  const t = new Date(Date.UTC(y, m - 1, d + n))
  return t.toISOString().slice(0, 10)
}

/** Monday of the week containing the day. */
export function mondayOf(day) {
  const [y, m, d] = day.split('-').map(Number)
  const wd = new Date(Date.UTC(y, m - 1, d)).getUTCDay() // 0 = Sunday
  return addDays(day, -((wd + 6) % 7))
}

export function weekdayIndex(day) {
  const [y, m, d] = day.split('-').map(Number)
  return (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7 // 0 = Monday
}

/** Refetch when live events of the given prefixes arrive (debounced). Returns a stop function. */
export function onLiveEvents(rt, watchFn, prefixes, callback, delay = 500) {
  let timer = null
  let seen = rt.events.length ? rt.events[rt.events.length - 1].id : 0
  const stop = watchFn(
    () => rt.version,
    () => {
      const fresh = rt.events.filter((e) => e.id > seen)
      if (rt.events.length) seen = Math.max(seen, rt.events[rt.events.length - 1].id)
      if (!fresh.some((e) => prefixes.some((p) => String(e.type || '').startsWith(p)))) return
      clearTimeout(timer)
      timer = setTimeout(callback, delay)
    },
  )
  return () => {
    clearTimeout(timer)
    stop()
  }
}
