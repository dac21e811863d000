import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Gives the whole test run one temporary root (TMPDIR, inherited by the test
 * workers, the CLI and the daemons they start) and removes it at the end, so
 * that no run leaves gigabytes behind for the next one to trip over.
 */
export default function setup (): () => void {
  const root = mkdtempSync(join(tmpdir(), 'mlp-tests-'))
  process.env.TMPDIR = root
  return () => {
    rmSync(root, { recursive: true, force: true })
  }
}
