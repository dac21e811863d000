import { spawn } from 'node:child_process'
import type { Launcher } from './sandbox.js'

/** One line of a stage's output. */
export interface LogLine {
  stream: 'stdout' | 'stderr'
  line: string
}

/** Options of {@link runCommand}. */
export interface RunInit {
  cwd: string
  env: NodeJS.ProcessEnv
  /** Runs `sh -c` under this wrapper (a sandbox); default: directly. */
  launcher?: Launcher
  signal?: AbortSignal
  onLine?: (l: LogLine) => void
}

/** How long a stopped stage gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 5_000

/**
 * Runs one command through `sh -c` in its own process group, so that Ctrl-C
 * (the abort signal) stops everything it started, not just the shell (a
 * sandbox wrapper stays in that group, with everything inside it).
 * Resolves with the exit code and the last lines of stderr.
 */
export async function runCommand (cmd: string, init: RunInit): Promise<{ code: number, stderrTail: string[] }> {
  init.signal?.throwIfAborted()
  const file = init.launcher?.file ?? '/bin/sh'
  // `--`: a command that starts with '-' is the command, not an option of sh
  const args = [...(init.launcher != null ? [...init.launcher.args, '/bin/sh'] : []), '-c', '--', cmd]
  const child = spawn(file, args, { cwd: init.cwd, env: init.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const tail: string[] = []
  const pipe = (stream: NodeJS.ReadableStream, name: LogLine['stream']): void => {
    let partial = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) emit(line)
    })
    stream.on('end', () => { if (partial !== '') emit(partial) })
    const emit = (line: string): void => {
      if (name === 'stderr') {
        tail.push(line)
        if (tail.length > 20) tail.shift()
      }
      init.onLine?.({ stream: name, line })
    }
  }
  pipe(child.stdout, 'stdout')
  pipe(child.stderr, 'stderr')
  let killTimer: NodeJS.Timeout | undefined
  const onAbort = (): void => {
    const kill = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-(child.pid as number), sig)
      } catch {
        // the group is gone
      }
    }
    kill('SIGTERM')
    killTimer = setTimeout(() => { kill('SIGKILL') }, KILL_GRACE_MS)
  }
  init.signal?.addEventListener('abort', onAbort)
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (c, sig) => { resolve(c ?? (sig != null ? 128 : 1)) })
    })
    init.signal?.throwIfAborted()
    return { code, stderrTail: tail }
  } finally {
    clearTimeout(killTimer)
    init.signal?.removeEventListener('abort', onAbort)
  }
}
