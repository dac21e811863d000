import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { InvalidMultiaddrError } from '@mlp/proto'

/** Parses a multiaddr, throwing {@link InvalidMultiaddrError} that names the input. */
export function parseMultiaddr (text: string, what = 'multiaddr'): Multiaddr {
  try {
    return multiaddr(text)
  } catch (err) {
    throw new InvalidMultiaddrError(`invalid ${what} '${text}': expected a multiaddr like /ip4/192.168.1.20/tcp/4737`, { cause: err })
  }
}
