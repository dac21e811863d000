import { Command, Errors, ux, type Interfaces } from '@oclif/core'
import { AbortError, errorToJSON, resolveHome, type RouteName, type Routes } from '@mlp/proto'
import { ApiClient } from './client.js'
import { writeCommandError } from './one-line.js'
import { ProgressLine } from './progress.js'

/** Parsed flags of a command class, `--json` included. */
export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
/** Parsed args of a command class (a `multiple: true` arg is a `string[]`). */
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>
/** The command line as oclif read it: flags and args in the order typed (after `--`, everything is an arg). */
export type ParsedTokens = Interfaces.ParserOutput['raw']

/**
 * What every mlp command shares: `--json`, the daemon client for `MLP_HOME`,
 * a progress line on a TTY, and error output as one line on stderr (and an
 * `{error}` document on stdout under `--json`).
 *
 * Positional args come from oclif's parse only, never from `this.argv`: a
 * list of targets is one `multiple: true` arg, so flags may come before or
 * after targets, a flag's value is never taken for a target, and `--` ends
 * the flags (`mlp add -- -weird-name.bin`).
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  protected flags!: CommandFlags<T>
  protected args!: CommandArgs<T>
  protected tokens!: ParsedTokens
  protected home!: string
  protected client!: ApiClient

  public override async init (): Promise<void> {
    await super.init()
    const { args, flags, raw } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict
    })
    this.flags = flags as CommandFlags<T>
    this.args = args as CommandArgs<T>
    this.tokens = raw
    this.home = resolveHome()
    this.client = new ApiClient(this.home)
  }

  /** Calls the daemon, rendering its progress events on a TTY. */
  protected async call<R extends RouteName>(route: R, body: Routes[R]['request'], render?: (event: Routes[R]['progress']) => string, onEvent?: (event: Routes[R]['progress']) => void): Promise<Routes[R]['result']> {
    const line = new ProgressLine(!this.jsonEnabled() && render != null)
    // Ctrl-C closes the request; the daemon then stops what it was doing for us
    const abort = new AbortController()
    const onSigint = (): void => { abort.abort() }
    process.once('SIGINT', onSigint)
    try {
      return await this.client.call(route, body, {
        signal: abort.signal,
        onProgress: (event) => {
          if (render != null) line.update(render(event))
          onEvent?.(event)
        }
      })
    } catch (err) {
      if (abort.signal.aborted) throw new AbortError('interrupted: the daemon stopped the operation')
      throw err
    } finally {
      process.off('SIGINT', onSigint)
      line.clear()
    }
  }

  /**
   * The `--json` document, as oclif prints it with no colour theme: oclif's
   * own printer tokenises the text with regexes even to colour nothing,
   * which took 0.1 s of `mlp exp show --json` with 1,000 experiments.
   */
  public override logJson (json: unknown): void {
    if (this.config.theme?.json != null) return super.logJson(json)
    ux.stdout(JSON.stringify(json, null, 2))
  }

  protected override async catch (err: Error & { exitCode?: number, oclif?: { exit?: number } }): Promise<void> {
    // oclif's own exits (help, version) are not failures
    if (err instanceof Errors.ExitError) throw err
    // a flag error means parse ran and failed; oclif would add a misleading warning
    this.parsed = true
    const usage = err.oclif?.exit === 2 || err.name === 'CLIError' || err.constructor.name.endsWith('FlagError') || err.constructor.name.endsWith('ArgsError')
    writeCommandError(err, errorToJSON(err), { jsonEnabled: this.jsonEnabled(), usage, id: this.id })
  }
}
