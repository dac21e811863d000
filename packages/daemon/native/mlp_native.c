// mlp's native helpers, for the two hot loops where the measured figure says
// JavaScript or Node's API is the bottleneck (BENCHMARKS.md, 2026-12-02):
//
// - ChaCha20-Poly1305 for Noise through the OpenSSL that Node itself links
//   (its symbols are exported for addons), decrypting in place and sealing
//   into a buffer the caller owns. Node's crypto API makes a cipher object
//   and a new output buffer for every 64 KiB Noise message; those outputs
//   were 68 MB of a fetching daemon's peak malloc heap and most of its
//   garbage collection.
// - FastCDC's gear-hash loop (store/chunker.ts defines the algorithm; this is
//   the same loop over the same table, so cut points are identical).
//
// Every function checks its arguments and throws (TypeError, RangeError) on a bad one:
// the callers are ours, but a wrong length here would read out of bounds.

#include <node_api.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define KEY_BYTES 32
#define NONCE_BYTES 12
#define TAG_BYTES 16
#define MAX_PIECES 64

// One cipher context per Node environment (the main thread and each worker
// have their own), made on first use and freed with the environment.
typedef struct {
  EVP_CIPHER_CTX *ctx;
  EVP_CIPHER *cipher;
} Instance;

static void instance_free (napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Instance *inst = (Instance *)data;
  if (inst->ctx != NULL) EVP_CIPHER_CTX_free(inst->ctx);
  if (inst->cipher != NULL) EVP_CIPHER_free(inst->cipher);
  free(inst);
}

static Instance *instance (napi_env env) {
  Instance *inst = NULL;
  napi_get_instance_data(env, (void **)&inst);
  if (inst != NULL && inst->ctx != NULL) return inst;
  if (inst == NULL) {
    inst = calloc(1, sizeof(Instance));
    if (inst == NULL) return NULL;
    if (napi_set_instance_data(env, inst, instance_free, NULL) != napi_ok) {
      free(inst);
      return NULL;
    }
  }
  inst->cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
  inst->ctx = EVP_CIPHER_CTX_new();
  if (inst->cipher == NULL || inst->ctx == NULL || EVP_CipherInit_ex(inst->ctx, inst->cipher, NULL, NULL, NULL, 1) != 1) {
    // left unset, so that the next call tries again rather than using half a context
    if (inst->ctx != NULL) EVP_CIPHER_CTX_free(inst->ctx);
    if (inst->cipher != NULL) EVP_CIPHER_free(inst->cipher);
    inst->ctx = NULL;
    inst->cipher = NULL;
    return NULL;
  }
  return inst;
}

// The bytes of a Uint8Array (or Buffer) argument; NULL after throwing when it is not one.
static uint8_t *bytes_of (napi_env env, napi_value v, size_t *len, const char *what) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type type;
  void *data = NULL;
  if (is && napi_get_typedarray_info(env, v, &type, len, &data, NULL, NULL) == napi_ok && type == napi_uint8_array) {
    // an empty view may have no backing memory; callers never read it
    return data != NULL ? (uint8_t *)data : (uint8_t *)"";
  }
  napi_throw_type_error(env, NULL, what);
  return NULL;
}

// The elements of an array of at most MAX_PIECES Uint8Arrays, as values.
// Reading an element may run JavaScript (an index getter), which could
// shrink or detach an array already looked at: so every element of every
// argument is fetched first, and only then are pointers and lengths taken
// (pieces_of), with no JavaScript running between that and their use.
static int elements_of (napi_env env, napi_value arr, napi_value *els, uint32_t *count) {
  bool is = false;
  napi_is_array(env, arr, &is);
  if (!is || napi_get_array_length(env, arr, count) != napi_ok || *count > MAX_PIECES) {
    napi_throw_type_error(env, NULL, "pieces must be an array of at most 64 Uint8Arrays");
    return 0;
  }
  for (uint32_t i = 0; i < *count; i++) {
    if (napi_get_element(env, arr, i, &els[i]) != napi_ok) return 0;
  }
  return 1;
}

// Pointers and lengths of elements fetched by elements_of.
static int pieces_of (napi_env env, napi_value *els, uint32_t count, uint8_t **ptrs, size_t *lens, size_t *total) {
  *total = 0;
  for (uint32_t i = 0; i < count; i++) {
    ptrs[i] = bytes_of(env, els[i], &lens[i], "every piece must be a Uint8Array");
    if (ptrs[i] == NULL) return 0;
    *total += lens[i];
  }
  return 1;
}

// Whether [a, a + alen) and [b, b + blen) share a byte.
static int overlap (const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  return alen > 0 && blen > 0 && a < b + blen && b < a + alen;
}

// Whether no two of the ranges share a byte (OpenSSL would read what it just wrote).
static int disjoint (uint8_t **ptrs, size_t *lens, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    for (uint32_t j = i + 1; j < count; j++) {
      if (overlap(ptrs[i], lens[i], ptrs[j], lens[j])) return 0;
    }
  }
  return 1;
}

// Starts one message: key, nonce, direction and associated data.
static int begin (napi_env env, Instance *inst, napi_value *argv, int enc) {
  size_t klen, nlen, adlen;
  uint8_t *key = bytes_of(env, argv[0], &klen, "key must be a Uint8Array");
  if (key == NULL) return 0;
  uint8_t *nonce = bytes_of(env, argv[1], &nlen, "nonce must be a Uint8Array");
  if (nonce == NULL) return 0;
  uint8_t *ad = bytes_of(env, argv[2], &adlen, "ad must be a Uint8Array");
  if (ad == NULL) return 0;
  if (klen != KEY_BYTES || nlen != NONCE_BYTES || adlen > INT32_MAX) {
    napi_throw_type_error(env, NULL, "key must be 32 bytes and nonce 12");
    return 0;
  }
  int outl = 0;
  if (EVP_CipherInit_ex(inst->ctx, NULL, NULL, key, nonce, enc) != 1) return 0;
  if (adlen > 0 && EVP_CipherUpdate(inst->ctx, NULL, &outl, ad, (int)adlen) != 1) return 0;
  return 1;
}

static napi_value throw_crypto (napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  // what OpenSSL queued must not be read later by Node's own crypto calls
  ERR_clear_error();
  if (!pending) napi_throw_error(env, NULL, "ChaCha20-Poly1305 failed in OpenSSL");
  return NULL;
}

// seal(key, nonce, ad, pieces, outs, tag): encrypts the pieces in order,
// piece i into outs[i] (of its length; outs[i] may be pieces[i] itself, to
// encrypt in place), and writes the 16-byte tag into tag.
static napi_value seal (napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6) {
    napi_throw_type_error(env, NULL, "seal(key, nonce, ad, pieces, outs, tag)");
    return NULL;
  }
  Instance *inst = instance(env);
  if (inst == NULL) return throw_crypto(env);
  napi_value piece_els[MAX_PIECES], out_els[MAX_PIECES];
  uint8_t *ptrs[MAX_PIECES], *outs[MAX_PIECES];
  size_t lens[MAX_PIECES], outlens[MAX_PIECES];
  uint32_t count, outcount;
  size_t total, outtotal, taglen;
  if (!elements_of(env, argv[3], piece_els, &count) || !elements_of(env, argv[4], out_els, &outcount)) return NULL;
  // no JavaScript runs from here on
  if (!pieces_of(env, piece_els, count, ptrs, lens, &total) || !pieces_of(env, out_els, outcount, outs, outlens, &outtotal)) return NULL;
  uint8_t *tag = bytes_of(env, argv[5], &taglen, "tag must be a Uint8Array");
  if (tag == NULL) return NULL;
  if (outcount != count || taglen != TAG_BYTES) {
    napi_throw_range_error(env, NULL, "seal: one output per piece, and a 16-byte tag");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    if (outlens[i] != lens[i]) {
      napi_throw_range_error(env, NULL, "seal: every output must be as long as its piece");
      return NULL;
    }
  }
  // each output is its own piece or apart from every piece; the outputs and the tag apart from each other
  for (uint32_t i = 0; i < count; i++) {
    for (uint32_t j = 0; j < count; j++) {
      if (!(i == j && outs[i] == ptrs[i]) && overlap(outs[i], outlens[i], ptrs[j], lens[j])) {
        napi_throw_range_error(env, NULL, "seal: an output overlaps a piece other than its own");
        return NULL;
      }
    }
    if (overlap(outs[i], outlens[i], tag, TAG_BYTES)) {
      napi_throw_range_error(env, NULL, "seal: the tag overlaps an output");
      return NULL;
    }
  }
  if (!disjoint(outs, outlens, count)) {
    napi_throw_range_error(env, NULL, "seal: outputs overlap");
    return NULL;
  }
  if (!begin(env, inst, argv, 1)) return throw_crypto(env);
  for (uint32_t i = 0; i < count; i++) {
    int outl = 0;
    // a stream cipher writes exactly what it reads: out may be the input itself
    if (lens[i] > INT32_MAX || EVP_CipherUpdate(inst->ctx, outs[i], &outl, ptrs[i], (int)lens[i]) != 1 || (size_t)outl != lens[i]) return throw_crypto(env);
  }
  uint8_t tail[TAG_BYTES];
  int outl = 0;
  if (EVP_CipherFinal_ex(inst->ctx, tail, &outl) != 1 || outl != 0) return throw_crypto(env);
  if (EVP_CIPHER_CTX_ctrl(inst->ctx, EVP_CTRL_AEAD_GET_TAG, TAG_BYTES, tag) != 1) return throw_crypto(env);
  return NULL;
}

// open(key, nonce, ad, pieces, tag): decrypts the pieces in place and
// returns whether the tag matched. On false the pieces hold garbage, which
// the caller must drop with the connection.
static napi_value open_ (napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5) {
    napi_throw_type_error(env, NULL, "open(key, nonce, ad, pieces, tag)");
    return NULL;
  }
  Instance *inst = instance(env);
  if (inst == NULL) return throw_crypto(env);
  napi_value piece_els[MAX_PIECES];
  uint8_t *ptrs[MAX_PIECES];
  size_t lens[MAX_PIECES];
  uint32_t count;
  size_t total, taglen;
  if (!elements_of(env, argv[3], piece_els, &count)) return NULL;
  // no JavaScript runs from here on
  if (!pieces_of(env, piece_els, count, ptrs, lens, &total)) return NULL;
  uint8_t *tag = bytes_of(env, argv[4], &taglen, "tag must be a Uint8Array");
  if (tag == NULL) return NULL;
  if (taglen != TAG_BYTES) {
    napi_throw_range_error(env, NULL, "tag must be 16 bytes");
    return NULL;
  }
  if (!disjoint(ptrs, lens, count)) {
    napi_throw_range_error(env, NULL, "open: pieces overlap");
    return NULL;
  }
  if (!begin(env, inst, argv, 0)) return throw_crypto(env);
  for (uint32_t i = 0; i < count; i++) {
    int outl = 0;
    // a stream cipher: OpenSSL allows the output to be the input
    if (lens[i] > INT32_MAX || EVP_CipherUpdate(inst->ctx, ptrs[i], &outl, ptrs[i], (int)lens[i]) != 1) return throw_crypto(env);
  }
  uint8_t tagcopy[TAG_BYTES];
  memcpy(tagcopy, tag, TAG_BYTES);
  if (EVP_CIPHER_CTX_ctrl(inst->ctx, EVP_CTRL_AEAD_SET_TAG, TAG_BYTES, tagcopy) != 1) return throw_crypto(env);
  uint8_t tail[TAG_BYTES];
  int outl = 0;
  int ok = EVP_CipherFinal_ex(inst->ctx, tail, &outl);
  if (ok != 1) ERR_clear_error();
  napi_value result;
  napi_get_boolean(env, ok == 1, &result);
  return result;
}

static uint32_t GEAR[256];
static pthread_once_t gear_once = PTHREAD_ONCE_INIT;

// The gear table of store/chunker.ts: splitmix32 from the seed "mlp1".
// Made once per process: every worker thread that loads the addon runs the
// module's init, and gear_cut may be reading the table on another thread.
static void init_gear (void) {
  uint32_t state = 0x6d6c7031u;
  for (int i = 0; i < 256; i++) {
    state += 0x9e3779b9u;
    uint32_t z = state;
    z = (z ^ (z >> 16)) * 0x85ebca6bu;
    z = (z ^ (z >> 13)) * 0xc2b2ae35u;
    GEAR[i] = z ^ (z >> 16);
  }
}

static int get_u32 (napi_env env, napi_value v, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) == napi_ok) return 1;
  napi_throw_type_error(env, NULL, "expected a non-negative integer");
  return 0;
}

// gearCut(buf, from, normalEnd, hardEnd, maskS, maskL): the index just past
// the first cut point in buf[from, hardEnd), with the stricter mask before
// normalEnd; hardEnd when none. The hash starts at zero at `from`.
static napi_value gear_cut (napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6) {
    napi_throw_type_error(env, NULL, "gearCut(buf, from, normalEnd, hardEnd, maskS, maskL)");
    return NULL;
  }
  size_t len;
  uint8_t *buf = bytes_of(env, argv[0], &len, "buf must be a Uint8Array");
  if (buf == NULL) return NULL;
  uint32_t from, normal_end, hard_end, mask_s, mask_l;
  if (!get_u32(env, argv[1], &from) || !get_u32(env, argv[2], &normal_end) || !get_u32(env, argv[3], &hard_end) ||
      !get_u32(env, argv[4], &mask_s) || !get_u32(env, argv[5], &mask_l)) return NULL;
  if (hard_end > len || normal_end > hard_end || from > normal_end) {
    napi_throw_range_error(env, NULL, "gearCut: from <= normalEnd <= hardEnd <= buf.length");
    return NULL;
  }
  uint32_t hash = 0;
  uint32_t i = from;
  uint32_t cut = hard_end;
  for (; i < normal_end; i++) {
    hash = (hash << 1) + GEAR[buf[i]];
    if ((hash & mask_s) == 0) {
      cut = i + 1;
      goto done;
    }
  }
  for (; i < hard_end; i++) {
    hash = (hash << 1) + GEAR[buf[i]];
    if ((hash & mask_l) == 0) {
      cut = i + 1;
      goto done;
    }
  }
done:;
  napi_value result;
  napi_create_uint32(env, cut, &result);
  return result;
}

// tuneMalloc(mmapThreshold, trimThreshold): glibc's mallopt for this
// process; false where the C library is not glibc or refused a value. With
// glibc's defaults, every array over the (dynamic) mmap threshold is a fresh
// mapping, and the heap top is handed back to the kernel after each garbage
// collection frees the arrays below it: each byte of a block the daemon
// reads or receives then page-faults anew (a 4 MiB pack read cost 4x its
// cost in reused memory here). Setting both makes freed memory stay mapped
// for the next allocation.
static napi_value tune_malloc (napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) {
    napi_throw_type_error(env, NULL, "tuneMalloc(mmapThreshold, trimThreshold)");
    return NULL;
  }
  uint32_t mmap_threshold, trim_threshold;
  if (!get_u32(env, argv[0], &mmap_threshold) || !get_u32(env, argv[1], &trim_threshold)) return NULL;
  bool ok = false;
#ifdef __GLIBC__
  if (mmap_threshold <= INT32_MAX && trim_threshold <= INT32_MAX) {
    ok = mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold) == 1;
    ok = mallopt(M_TRIM_THRESHOLD, (int)trim_threshold) == 1 && ok;
  }
#endif
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

NAPI_MODULE_INIT () {
  pthread_once(&gear_once, init_gear);
  napi_property_descriptor props[] = {
    { "seal", NULL, seal, NULL, NULL, NULL, napi_default, NULL },
    { "open", NULL, open_, NULL, NULL, NULL, napi_default, NULL },
    { "gearCut", NULL, gear_cut, NULL, NULL, NULL, napi_default, NULL },
    { "tuneMalloc", NULL, tune_malloc, NULL, NULL, NULL, napi_default, NULL }
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}
