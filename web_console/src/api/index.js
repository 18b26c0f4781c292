// One function per endpoint of the command server (see the API contract in README.md).
import { http, download } from './http'

const V1 = '/api/v1'

export const authApi = {
  login: (username, password, totp) =>
    http.post(`${V1}/auth/login`, totp ? { username, password, totp } : { username, password }, { auth: false }),
  logout: (refresh_token) => http.post(`${V1}/auth/logout`, { refresh_token }, { auth: false }),
  me: () => http.get(`${V1}/auth/me`),
  totpEnroll: () => http.post(`${V1}/auth/totp/enroll`, {}),
  totpConfirm: (code) => http.post(`${V1}/auth/totp/confirm`, { code }),
  totpDisable: (code) => http.post(`${V1}/auth/totp/disable`, { code }),
}

export const orgApi = {
  units: () => http.get(`${V1}/org/units`),
  createUnit: (data) => http.post(`${V1}/org/units`, data),
  updateUnit: (id, data) => http.patch(`${V1}/org/units/${id}`, data),
  deleteUnit: (id) => http.delete(`${V1}/org/units/${id}`),
}

export const peopleApi = {
  list: (query) => http.get(`${V1}/people`, { query }),
  get: (id) => http.get(`${V1}/people/${id}`),
  create: (data) => http.post(`${V1}/people`, data),
  update: (id, data) => http.patch(`${V1}/people/${id}`, data),
  remove: (id) => http.delete(`${V1}/people/${id}`),
  exportXlsx: (query) => download(`${V1}/people/export.xlsx`, query, 'people.xlsx'),
  importXlsx: (file) => {
    const form = new FormData()
    form.append('file', file)
    return http.upload(`${V1}/people/import`, form)
  },
}

export const eventsApi = {
  list: (query) => http.get(`${V1}/events`, { query }),
}

export const bulletinsApi = {
  post: (text) => http.post(`${V1}/bulletins`, { text }),
}
