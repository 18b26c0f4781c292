// The video module's permissions. The intended names are cameras:read / cameras:write / cameras:record; until the
// permission table grants them the server uses the map's (same audiences), so either name counts here.
import { useAuthStore } from '@/stores/auth'

function any(auth, names) {
  return names.some((n) => auth.hasPerm(n))
}

export function useVideoPerms() {
  const auth = useAuthStore()
  return {
    canRead: () => any(auth, ['cameras:read', 'map:read']),
    canWrite: () => any(auth, ['cameras:write', 'map:write']),
    canRecord: () => (auth.permissions.has('cameras:record') ? true : !auth.permissions.has('cameras:read') && auth.hasPerm('map:write')),
  }
}
