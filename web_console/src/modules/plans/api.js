// The plan library, plan matching and starting the response (see command_server/plans/routes.py).
import { http, download } from '@/api/http'

const V1 = '/api/v1'

export const plansApi = {
  list: (query) => http.get(`${V1}/plans`, { query }),
  get: (id) => http.get(`${V1}/plans/${id}`),
  create: (data) => http.post(`${V1}/plans`, data),
  update: (id, data) => http.put(`${V1}/plans/${id}`, data),
  retire: (id) => http.delete(`${V1}/plans/${id}`),
  versions: (id) => http.get(`${V1}/plans/${id}/versions`),
  version: (id, v) => http.get(`${V1}/plans/${id}/versions/${v}`),
  diff: (id, from, to) => http.get(`${V1}/plans/${id}/diff`, { query: { from, to } }),
  exportJson: (id) => download(`${V1}/plans/${id}/export.json`, null, `plan-${id}.json`),
  template: () => download(`${V1}/plans/import-template.xlsx`, null, 'plan-template.xlsx'),
  importFile: (file) => {
    const form = new FormData()
    form.append('file', file)
    return http.upload(`${V1}/plans/import`, form)
  },
  uploadAttachment: (file) => {
    const form = new FormData()
    form.append('file', file)
    return http.upload(`${V1}/files`, form)
  },
  fileMeta: (id) => http.get(`${V1}/files/${id}`),
  matches: (incidentId) => http.get(`${V1}/incidents/${incidentId}/plan-matches`),
  startResponse: (incidentId, planId, reason) =>
    http.post(`${V1}/incidents/${incidentId}/response`, reason ? { plan_id: planId, reason } : { plan_id: planId }),
  units: () => http.get(`${V1}/org/units`),
}

export const EVENT_TYPES = ['water', 'air', 'soil', 'hazchem_leak', 'hazardous_waste', 'radiation', 'fire_explosion', 'other']
export const LEVELS = ['I', 'II', 'III', 'IV']
export const KINDS = ['comprehensive', 'special', 'department', 'enterprise']
export const ROLES = ['leader', 'officer', 'driver', 'monitor', 'expert', 'liaison', 'admin', 'commander', 'operator', 'field', 'pilot']
export const FACTORS = ['type', 'pollutant', 'level', 'area', 'text']

/** The unit tree flattened to [{id, name, label}] for selects. */
export function flattenUnits(forest, prefix = '') {
  const out = []
  for (const u of forest || []) {
    const label = prefix ? `${prefix} / ${u.name}` : u.name
    out.push({ id: u.id, name: u.name, label, kind: u.kind })
    out.push(...flattenUnits(u.children, label))
  }
  return out
}
