// Live events: REST history first, then a Socket.IO connection to the layout's
// namespace (/console, /mobile, /screen) that replays what was missed after
// `last_event_id` and then streams. Events are kept deduplicated by id and
// ordered by id (ascending in `events`; views show them newest first).
import { defineStore } from 'pinia'
import { markRaw } from 'vue'
import { io } from 'socket.io-client'
import { eventsApi } from '@/api'
import { ensureFreshToken, refreshTokens, getAccessToken, sessionLost, AuthLostError } from '@/api/session'

const MAX_EVENTS = 3000
const HISTORY_LIMIT = 100

let socket = null
let retryTimer = null
let authFailures = 0
let serverKicks = 0

export const useRealtimeStore = defineStore('realtime', {
  state: () => ({
    namespace: null,
    /** 'disconnected' | 'connecting' | 'connected' | 'reconnecting' */
    status: 'disconnected',
    errorCode: null,
    events: [],
    /** highest id received through the unfiltered stream (the replay cursor) */
    lastId: null,
    replaying: false,
    historyLoaded: false,
    historyError: null,
    /** a counter that changes on every insert, cheap to watch */
    version: 0,
  }),
  getters: {
    /** connected | reconnecting | disconnected (the value of data-state) */
    indicator: (s) => {
      if (s.status === 'connected') return 'connected'
      if (s.status === 'connecting' || s.status === 'reconnecting') return 'reconnecting'
      return 'disconnected'
    },
    newestFirst: (s) => s.events.slice().reverse(),
    minId: (s) => (s.events.length ? s.events[0].id : null),
  },
  actions: {
    /** Insert events (any order), dedup by id. cursor=true advances the replay cursor. */
    addEvents(list, { cursor = false } = {}) {
      if (!Array.isArray(list) || !list.length) return 0
      const have = new Set(this.events.map((e) => e.id))
      let added = 0
      const arr = this.events.slice()
      for (const raw of list) {
        if (!raw || raw.id === undefined || raw.id === null) continue
        const id = Number(raw.id)
        if (cursor && (this.lastId === null || id > this.lastId)) this.lastId = id
        if (have.has(id)) continue
        have.add(id)
        const ev = markRaw({ ...raw, id })
        if (!arr.length || arr[arr.length - 1].id < id) arr.push(ev)
        else {
          let lo = 0
          let hi = arr.length
          while (lo < hi) {
            const mid = (lo + hi) >> 1
            if (arr[mid].id < id) lo = mid + 1
            else hi = mid
          }
          arr.splice(lo, 0, ev)
        }
        added++
      }
      if (added) {
        this.events = arr.length > MAX_EVENTS ? arr.slice(arr.length - MAX_EVENTS) : arr
        this.version++
      }
      return added
    },

    /** Newest events (optionally with a type prefix). Unfiltered history advances the cursor. */
    async loadHistory(typePrefix = '') {
      const resp = await eventsApi.list({ limit: HISTORY_LIMIT, type: typePrefix || undefined })
      const items = (resp && resp.items) || []
      this.addEvents(items, { cursor: !typePrefix })
      // Nothing visible yet: replay from the start so that events committed between this
      // request and the socket connect are not missed (the server filters by entitlement).
      if (!typePrefix && !items.length && this.lastId === null) this.lastId = 0
      return items.length
    },

    /** Older page before the oldest event we hold (for a given filter). Returns the count. */
    async loadOlder(typePrefix = '', beforeId = null) {
      const before = beforeId ?? this.minId
      const resp = await eventsApi.list({ limit: HISTORY_LIMIT, before: before ?? undefined, type: typePrefix || undefined })
      const items = (resp && resp.items) || []
      this.addEvents(items)
      return items.length
    },

    /** Start (or keep) the live stream on a namespace. Safe to call repeatedly. */
    async start(namespace) {
      if (this.namespace === namespace && socket) return
      this.stop()
      this.namespace = namespace
      this.status = 'connecting'
      this.errorCode = null
      if (!this.historyLoaded) {
        try {
          await this.loadHistory()
          this.historyError = null
        } catch (e) {
          // e.g. no events:read (enterprise): the stream still works
          this.historyError = (e && e.code) || 'error'
        }
        this.historyLoaded = true
      }
      if (this.namespace !== namespace) return // stopped meanwhile
      this.connect()
    },

    connect() {
      if (!this.namespace) return
      const ns = this.namespace
      clearTimeout(retryTimer)
      if (socket) {
        socket.removeAllListeners()
        socket.disconnect()
        socket = null
      }
      const s = io(ns, {
        path: '/socket.io',
        transports: ['websocket'],
        forceNew: true,
        reconnection: true,
        reconnectionDelay: 1000,
        reconnectionDelayMax: 10000,
        // called on every (re)connect attempt: always the freshest token and cursor
        auth: (cb) => {
          ensureFreshToken()
            .catch(() => getAccessToken())
            .then((token) => cb({ token: token || getAccessToken(), last_event_id: this.lastId ?? null }))
        },
      })
      socket = s

      s.on('connect', () => {
        authFailures = 0
        this.status = 'connected'
        this.errorCode = null
        this.replaying = true
      })
      s.on('event', (ev) => {
        this.addEvents([ev], { cursor: true })
      })
      s.on('replay_done', (data) => {
        this.replaying = false
        serverKicks = 0
        if (data && data.last_id != null) {
          const id = Number(data.last_id)
          if (this.lastId === null || id > this.lastId) this.lastId = id
        }
      })
      s.on('disconnect', (reason) => {
        if (socket !== s) return
        if (reason === 'io client disconnect') {
          this.status = 'disconnected'
          return
        }
        if (reason === 'io server disconnect') {
          // the server closed us (token expiry, revoked session…): refresh and retry, bounded
          this.status = 'reconnecting'
          serverKicks++
          if (serverKicks > 5) {
            this.status = 'disconnected'
            return
          }
          this.retryWithRefresh(Math.min(1000 * serverKicks, 5000))
          return
        }
        this.status = 'reconnecting' // the manager reconnects by itself
      })
      s.on('connect_error', (err) => {
        if (socket !== s) return
        const code = (err && err.data && err.data.code) || (err && err.message) || 'error'
        if (s.active) {
          // transport trouble: the manager retries by itself
          this.status = 'reconnecting'
          return
        }
        // refused by the server's connect handler: no automatic retry
        this.errorCode = code
        if (code === 'forbidden') {
          this.status = 'disconnected'
          return
        }
        if (code === 'token_expired' || code === 'unauthorized') {
          authFailures++
          if (authFailures > 2) {
            this.status = 'disconnected'
            if (code === 'unauthorized') sessionLost()
            return
          }
          this.status = 'reconnecting'
          this.retryWithRefresh(code === 'token_expired' ? 0 : 500, true)
          return
        }
        this.status = 'reconnecting'
        this.retryWithRefresh(3000)
      })
    },

    retryWithRefresh(delay = 0, force = false) {
      clearTimeout(retryTimer)
      const s = socket
      retryTimer = setTimeout(async () => {
        if (socket !== s || !s) return
        try {
          if (force) await refreshTokens(getAccessToken())
          else await ensureFreshToken()
        } catch (e) {
          if (e instanceof AuthLostError) {
            this.stop()
            return
          }
          // network trouble: try again later
          this.retryWithRefresh(5000, force)
          return
        }
        if (socket === s) s.connect()
      }, delay)
    },

    /** Manual reconnect (the indicator's button). */
    reconnect() {
      authFailures = 0
      serverKicks = 0
      if (!this.namespace) return
      this.status = 'reconnecting'
      if (socket && !socket.connected) socket.connect()
      else if (!socket) this.connect()
    },

    stop() {
      clearTimeout(retryTimer)
      if (socket) {
        const s = socket
        socket = null
        s.removeAllListeners()
        s.disconnect()
      }
      this.namespace = null
      this.status = 'disconnected'
    },

    /** On logout: forget everything. */
    reset() {
      this.stop()
      this.events = []
      this.lastId = null
      this.historyLoaded = false
      this.historyError = null
      this.replaying = false
      this.version++
    },
  },
})
