// The incident and task endpoints (see command_server/incidents/routes.py).
import { http } from '@/api/http'

const V1 = '/api/v1'
const I = (id) => `${V1}/incidents/${id}`

export const incidentsApi = {
  list: (query) => http.get(`${V1}/incidents`, { query }),
  stats: () => http.get(`${V1}/incidents/stats`),
  create: (data) => http.post(`${V1}/incidents`, data),
  get: (id) => http.get(I(id)),
  update: (id, data) => http.patch(I(id), data),
  suggestLevel: (criteria) => http.post(`${V1}/incidents/level-suggestion`, criteria),
  decideLevel: (id, data) => http.post(`${I(id)}/level`, data),
  transition: (id, to, reason, extra = {}) => http.post(`${I(id)}/transitions`, { to, reason: reason || null, ...extra }),
  timeline: (id, query) => http.get(`${I(id)}/timeline`, { query }),
  addNote: (id, text, fileIds = []) => http.post(`${I(id)}/notes`, { text, file_ids: fileIds }),
  forward: (id, unitId, note) => http.post(`${I(id)}/forward`, { unit_id: unitId, note: note || null }),
  leadUnit: (id, unitId, reason) => http.post(`${I(id)}/lead-unit`, { unit_id: unitId, reason: reason || null }),
  reports: (id) => http.get(`${I(id)}/reports`),
  addReport: (id, data) => http.post(`${I(id)}/reports`, data),
  tasks: (id) => http.get(`${I(id)}/tasks`),
  addTask: (id, data) => http.post(`${I(id)}/tasks`, data),
}

export const tasksApi = {
  list: (query) => http.get(`${V1}/tasks`, { query }),
  update: (id, data) => http.patch(`${V1}/tasks/${id}`, data),
}

export const TYPES = ['hazchem_leak', 'water', 'air', 'soil', 'hazardous_waste', 'radiation', 'fire_explosion', 'other']
export const STATES = ['reported', 'verifying', 'responding', 'disposing', 'closed', 'assessed', 'false_alarm', 'merged']
export const LEVELS = ['I', 'II', 'III', 'IV']
export const LEVEL_TAG = { I: 'danger', II: 'danger', III: 'warning', IV: 'primary' }
export const STATE_TAG = { reported: 'danger', verifying: 'warning', responding: 'danger', disposing: 'warning', closed: 'success', assessed: 'success', false_alarm: 'info', merged: 'info' }
export const RAG_COLOR = { red: '#d03050', amber: '#f0a020', green: '#18a058' }
export const TIMELINE_KINDS = ['state', 'level', 'plan', 'task', 'notice', 'note', 'file', 'simulation', 'report', 'unit', 'alarm', 'other']

/** Flatten the unit tree from /org/units into [{id, name, depth}] for selects. */
export function flattenUnits(forest, depth = 0, out = []) {
  for (const u of forest || []) {
    out.push({ id: u.id, name: u.name, depth, label: `${'　'.repeat(depth)}${u.name}` })
    flattenUnits(u.children, depth + 1, out)
  }
  return out
}

/** "1:23:45" or "-0:05:00" for a countdown in seconds. */
export function formatCountdown(seconds) {
  const neg = seconds < 0
  let s = Math.abs(Math.trunc(seconds))
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const m = Math.floor(s / 60)
  s -= m * 60
  return `${neg ? '-' : ''}${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`
}
