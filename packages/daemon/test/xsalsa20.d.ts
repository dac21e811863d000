// The `xsalsa20` package ships no types; the interop test uses only this.
declare module 'xsalsa20' {
  /** A stateful XSalsa20 keystream: `update` XORs the next bytes. */
  export default function xsalsa20 (nonce: Uint8Array, key: Uint8Array): { update: (input: Uint8Array) => Uint8Array, finalize: () => void }
}
