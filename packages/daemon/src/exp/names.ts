import { randomInt } from 'node:crypto'

const ADJECTIVES = ['amber', 'brisk', 'calm', 'dapper', 'eager', 'fuzzy', 'gentle', 'hazy', 'icy', 'jolly', 'keen', 'lucky', 'mellow', 'nimble', 'odd', 'plucky', 'quiet', 'rapid', 'snug', 'tidy', 'upbeat', 'vivid', 'witty', 'young', 'zesty']
const NOUNS = ['acorn', 'badger', 'comet', 'dingo', 'ember', 'falcon', 'gecko', 'heron', 'iris', 'jackal', 'koala', 'lemur', 'marten', 'newt', 'otter', 'panda', 'quail', 'raven', 'stoat', 'tapir', 'urchin', 'vole', 'walrus', 'yak', 'zebra']

/**
 * A fresh adjective-noun name (as DVC names experiments) that `taken` does
 * not hold: a number is added when the few hundred pairs run out.
 */
export function generateName (taken: (name: string) => boolean): string {
  for (let i = 0; i < 1000; i++) {
    const base = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}`
    const name = i < 50 ? base : `${base}-${randomInt(1_000_000)}`
    if (!taken(name)) return name
  }
  throw new Error('no free experiment name found')
}
