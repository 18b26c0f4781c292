// The camera catalogue as the video pages see it, kept live from `camera.*` events: status changes update the
// row in place (and every page showing it), catalogue changes reload it.
import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import { useRealtimeStore } from '@/stores/realtime'
import { camerasApi } from './api'

const RELOAD_TYPES = ['camera.created', 'camera.updated', 'camera.deleted', 'cameras.imported', 'cameras.seeded']
const STATUS_LOG = 30

export const useCameraStore = defineStore('video-cameras', () => {
  const rt = useRealtimeStore()
  const byId = ref({})
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref(null)
  /** the last status changes, newest first: {id, camera_id, name, status, detail, at} */
  const statusLog = ref([])
  /** bumps on every status event (a cheap "something changed" for overlays and lists) */
  const statusVersion = ref(0)
  /** the last status event per camera: {id (event id), type, detail}; a VideoCell watches its own camera's */
  const lastById = ref({})

  const list = computed(() => Object.values(byId.value).sort((a, b) => a.name.localeCompare(b.name, 'zh-CN')))
  const counts = computed(() => {
    const out = { online: 0, offline: 0, unknown: 0, total: 0 }
    for (const c of list.value) {
      out[c.status] = (out[c.status] || 0) + 1
      out.total++
    }
    return out
  })

  async function load(force = false) {
    if (loading.value || (loaded.value && !force)) return
    loading.value = true
    try {
      const page = await camerasApi.list()
      byId.value = Object.fromEntries(page.items.map((c) => [c.id, c]))
      loaded.value = true
      error.value = null
    } catch (e) {
      error.value = e
    } finally {
      loading.value = false
    }
  }

  function get(id) {
    return id == null ? null : byId.value[id] || null
  }

  let reloadTimer = null
  function scheduleReload() {
    clearTimeout(reloadTimer)
    reloadTimer = setTimeout(() => load(true), 500)
  }

  let seen = null
  watch(
    () => rt.version,
    () => {
      const evs = rt.events
      if (!evs.length) return
      if (seen === null) {
        seen = evs[evs.length - 1].id
        return
      }
      const fresh = []
      for (let i = evs.length - 1; i >= 0 && evs[i].id > seen; i--) fresh.push(evs[i])
      seen = evs[evs.length - 1].id
      for (const ev of fresh.reverse()) apply(ev)
    },
  )

  function apply(ev) {
    const type = String(ev.type || '')
    if (type === 'camera.online' || type === 'camera.offline') {
      const id = Number(ev.subject_id)
      const p = ev.payload || {}
      const status = type.slice('camera.'.length)
      const c = byId.value[id]
      if (c) {
        byId.value[id] = { ...c, status, status_detail: p.detail || null, status_changed_at: ev.at, last_seen: status === 'online' ? ev.at : c.last_seen }
      }
      statusLog.value = [{ id: ev.id, camera_id: id, name: p.name || (c && c.name) || `#${id}`, status, detail: p.detail || '', at: ev.at }, ...statusLog.value].slice(0, STATUS_LOG)
      lastById.value = { ...lastById.value, [id]: { id: ev.id, type, detail: p.detail || '' } }
      statusVersion.value++
      return
    }
    if (RELOAD_TYPES.includes(type) && loaded.value) scheduleReload()
  }

  return { byId, list, counts, loaded, loading, error, statusLog, statusVersion, lastById, load, get }
})
