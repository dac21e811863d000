import { isDeepStrictEqual } from 'node:util'
import { parseDocument, visit, type Document, type Scalar } from 'yaml'

const FLOAT_TAG = 'tag:yaml.org,2002:float'

/**
 * A number as Python's `str()` writes a float: shortest round-trip digits
 * (as JavaScript), `.0` on an integral value, scientific below 1e-4 and at
 * or above 1e16 (`1e-05`, `1e+16`: sign and two-digit exponent), `-0.0`,
 * `inf`, `nan`.
 */
export function pyFloat (n: number): string {
  if (Number.isNaN(n)) return 'nan'
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf'
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0'
  const [mantissa, exp] = n.toExponential().split('e')
  const e = Number(exp)
  if (e < -4 || e >= 16) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  const s = String(n)
  return s.includes('.') ? s : `${s}.0`
}

/**
 * A float of a params, vars or pipeline file, inside the templating context
 * only. JavaScript has one number type, so `lr: 1.0` would otherwise render
 * `1` where DVC (Python) renders `1.0`. Nothing outside templating sees one:
 * the lock, `params diff` and run-cache keys read plain numbers, and a stage
 * is made of {@link plainValue}s. The number is a private field, so no
 * `${lr.x}` can reach into it and `Object.keys` finds nothing.
 */
export class PyFloat {
  readonly #value: number

  constructor (value: number) {
    this.#value = value
  }

  /** The number itself (also what comparisons and arithmetic see). */
  valueOf (): number {
    return this.#value
  }

  /** As Python's `str()`. */
  toString (): string {
    return pyFloat(this.#value)
  }
}

/** A list or mapping that `${}` may walk into (a {@link PyFloat} is a scalar). */
export function isComposite (value: unknown): value is object {
  return value != null && typeof value === 'object' && !(value instanceof PyFloat)
}

function isPlainContainer (value: object): boolean {
  if (Array.isArray(value)) return true
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * `value` with every {@link PyFloat} back to a number; lists and mappings
 * are copied (once each: YAML aliases share a subtree, and the copy shares
 * it too), anything else (a YAML timestamp's Date) is kept as it is.
 */
export function plainValue (value: unknown, seen = new Map<object, unknown>()): unknown {
  if (value instanceof PyFloat) return value.valueOf()
  if (value == null || typeof value !== 'object' || !isPlainContainer(value)) return value
  const done = seen.get(value)
  if (done !== undefined) return done
  if (Array.isArray(value)) {
    const out: unknown[] = []
    seen.set(value, out)
    for (const v of value) out.push(plainValue(v, seen))
    return out
  }
  const out: Record<string, unknown> = {}
  seen.set(value, out)
  for (const [k, v] of Object.entries(value)) {
    // defined, not assigned: a `__proto__` key stays a key, as toJS and JSON.parse keep it
    Object.defineProperty(out, k, { value: plainValue(v, seen), enumerable: true, writable: true, configurable: true })
  }
  return out
}

/** Whether a parsed number was a float in the source, resolved as the document's schema resolved it. */
function isFloat (doc: Document, node: Scalar): boolean {
  if (node.tag != null) return node.tag === FLOAT_TAG
  const source = node.source
  if (source == null) return !Number.isInteger(node.value)
  const tag = doc.schema.tags.find((t) => t.default === true && t.test?.test(source) === true)
  return tag?.tag === FLOAT_TAG
}

/**
 * A parsed YAML document's values as `toJS()` gives them, but each float
 * value (`1.0`, `1e3`, `.inf`, `!!float 1`) a {@link PyFloat}; mapping keys
 * stay strings. The document itself is not changed.
 */
export function templateValues (doc: Document): unknown {
  const copy = doc.clone()
  visit(copy, {
    Scalar (key, node) {
      if (key !== 'key' && typeof node.value === 'number' && isFloat(copy, node)) node.value = new PyFloat(node.value)
    }
  })
  return copy.toJS()
}

/**
 * A JSON file's values with floats (`1.0`, `1e3`) as {@link PyFloat}, as
 * Python's json reads them, given what `JSON.parse` made of the same text.
 * JSON is YAML 1.2, whose parser keeps the source of each number; where it
 * reads the text any differently from `JSON.parse`, `parsed` is returned as
 * it is (floats then render as plain numbers, as before).
 */
export function jsonTemplateValues (text: string, parsed: unknown): unknown {
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false })
  if (doc.errors.length > 0) return parsed
  const typed = templateValues(doc)
  return isDeepStrictEqual(plainValue(typed), parsed) ? typed : parsed
}
