import { appendFileSync } from 'node:fs'

/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** Level names accepted in config. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

/** Structured logger: one JSON object per line. */
export interface Logger {
  debug: (msg: string, fields?: Record<string, unknown>) => void
  info: (msg: string, fields?: Record<string, unknown>) => void
  warn: (msg: string, fields?: Record<string, unknown>) => void
  error: (msg: string, fields?: Record<string, unknown>) => void
}

/** Options of {@link createLogger}. */
export interface LoggerInit {
  /** File the JSON lines are appended to. */
  file: string
  /** Lowest level written (default `info`). */
  level?: LogLevel
  /** Also write each line to stderr (foreground mode, for systemd/containers). */
  stderr?: boolean
}

/**
 * A synchronous file logger. The daemon logs a few lines per operation, not
 * per block, so synchronous appends are cheap and nothing is lost on a crash.
 */
export function createLogger (init: LoggerInit): Logger {
  const min = LOG_LEVELS.indexOf(init.level ?? 'info')
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (LOG_LEVELS.indexOf(level) < min) return
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n'
    try {
      appendFileSync(init.file, line)
    } catch {
      // a full or read-only disk must not take the daemon down with it
    }
    if (init.stderr === true) process.stderr.write(line)
  }
  return {
    debug: (msg, fields) => { write('debug', msg, fields) },
    info: (msg, fields) => { write('info', msg, fields) },
    warn: (msg, fields) => { write('warn', msg, fields) },
    error: (msg, fields) => { write('error', msg, fields) }
  }
}
