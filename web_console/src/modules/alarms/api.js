// The alarm intake endpoints (see command_server/alarms/routes.py).
import { http } from '@/api/http'

const V1 = '/api/v1'

export const alarmsApi = {
  list: (query) => http.get(`${V1}/alarms`, { query }),
  get: (id) => http.get(`${V1}/alarms/${id}`),
  create: (data) => http.post(`${V1}/alarms`, data),
  update: (id, data) => http.patch(`${V1}/alarms/${id}`, data),
  close: (id, reason, falseAlarm = false) => http.post(`${V1}/alarms/${id}/close`, { reason, false_alarm: falseAlarm }),
  merge: (id, intoId) => http.post(`${V1}/alarms/${id}/merge`, { into_id: intoId }),
  duplicates: (id) => http.get(`${V1}/alarms/${id}/duplicates`),
}

export const EVENT_TYPES = ['hazchem_leak', 'water', 'air', 'soil', 'hazardous_waste', 'radiation', 'fire_explosion', 'other']
export const CHANNELS = ['hotline', 'upper_assignment', 'complaint_12369', 'complaint_12345', 'monitoring', 'field_report', 'external']
export const STATUSES = ['open', 'merged', 'converted', 'closed', 'false_alarm']
export const STATUS_TAG = { open: 'danger', merged: 'info', converted: 'success', closed: '', false_alarm: 'warning' }

/** A local time picked in the form ('YYYY-MM-DDTHH:mm:ss', no zone): the server reads it as Asia/Shanghai. */
export const LOCAL_FORMAT = 'YYYY-MM-DDTHH:mm:ss'
