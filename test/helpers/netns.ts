import { execFileSync } from 'node:child_process'

/** A throwaway LAN: host namespaces joined by a bridge that lives in its own namespace. */
export interface Lan {
  hosts: string[]
  /** Address of each host, only ever assigned inside its namespace. */
  addrs: string[]
  teardown: () => void
}

function ip (...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

/**
 * Creates `count` network namespaces on 10.47.<subnet>.0/24 joined by a
 * bridge, nothing routed to the outside. Needs root (CI runs as root); fails
 * loudly otherwise.
 */
export function createLan (count: number, subnet: number): Lan {
  const tag = `${process.pid % 10000}${subnet}`
  const sw = `mlpsw${tag}`
  const hosts = Array.from({ length: count }, (_, i) => `mlph${tag}x${i}`)
  const addrs = hosts.map((_, i) => `10.47.${subnet}.${i + 1}`)
  const teardown = (): void => {
    for (const ns of [...hosts, sw]) {
      try {
        ip('netns', 'del', ns)
      } catch {
        // already gone
      }
    }
  }
  try {
    ip('netns', 'add', sw)
    ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', sw, 'link', 'set', 'br0', 'up')
    hosts.forEach((ns, i) => {
      ip('netns', 'add', ns)
      ip('link', 'add', `v${tag}h${i}`, 'type', 'veth', 'peer', 'name', `v${tag}s${i}`)
      ip('link', 'set', `v${tag}h${i}`, 'netns', ns)
      ip('link', 'set', `v${tag}s${i}`, 'netns', sw)
      ip('-n', sw, 'link', 'set', `v${tag}s${i}`, 'master', 'br0')
      ip('-n', sw, 'link', 'set', `v${tag}s${i}`, 'up')
      ip('-n', ns, 'link', 'set', 'lo', 'up')
      ip('-n', ns, 'link', 'set', `v${tag}h${i}`, 'name', 'eth0')
      ip('-n', ns, 'addr', 'add', `${addrs[i]}/24`, 'dev', 'eth0')
      ip('-n', ns, 'link', 'set', 'eth0', 'up')
      // multicast (mDNS) leaves through the LAN interface
      ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
    })
  } catch (err) {
    teardown()
    throw err
  }
  return { hosts, addrs, teardown }
}
