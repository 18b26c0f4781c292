// The video module's permissions, as the server grants them (core/permissions.py).
import { useAuthStore } from '@/stores/auth'

export function useVideoPerms() {
  const auth = useAuthStore()
  return {
    canRead: () => auth.hasPerm('cameras:read'),
    canWrite: () => auth.hasPerm('cameras:write'),
    canRecord: () => auth.hasPerm('cameras:record'),
  }
}
