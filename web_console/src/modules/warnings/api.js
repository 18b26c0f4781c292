// REST calls of the warnings module (monitoring, warning rules, warnings, notifications).
import { http, download } from '@/api/http'

const V1 = '/api/v1'

export const warningsApi = {
  list: (query) => http.get(`${V1}/warnings`, { query }),
  get: (id) => http.get(`${V1}/warnings/${id}`),
  ack: (id) => http.post(`${V1}/warnings/${id}/ack`),
  close: (id, reason) => http.post(`${V1}/warnings/${id}/close`, { reason: reason || null }),
  toAlarm: (id) => http.post(`${V1}/warnings/${id}/to-alarm`),
  cap: (id) => download(`${V1}/warnings/${id}/cap.xml`, null, `warning-${id}.cap.xml`),
}

export const rulesApi = {
  list: (query) => http.get(`${V1}/warning-rules`, { query }),
  create: (body) => http.post(`${V1}/warning-rules`, body),
  update: (id, body) => http.put(`${V1}/warning-rules/${id}`, body),
  remove: (id) => http.delete(`${V1}/warning-rules/${id}`),
}

export const monitoringApi = {
  sources: (query) => http.get(`${V1}/monitoring/sources`, { query }),
  metrics: () => http.get(`${V1}/monitoring/metrics`),
  series: (query) => http.get(`${V1}/monitoring/series`, { query }),
}

export const notificationsApi = {
  list: (query) => http.get(`${V1}/notifications`, { query }),
  ack: (id) => http.post(`${V1}/notifications/${id}/ack`),
}

export const LEVEL_COLORS = { blue: '#2f7bff', yellow: '#e6b800', orange: '#ff7a00', red: '#e02020' }
export const LEVELS = ['red', 'orange', 'yellow', 'blue']
