/** `1.5 GB`, `12.0 MB`, `512 B`: decimal units, as disks and networks are sold. Shared by the CLI and the daemon's reports. */
export function formatBytes (n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let i = 0
  let v = n
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000
    i++
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`
}
