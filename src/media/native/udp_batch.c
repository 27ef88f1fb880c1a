/*
 * ari_udp: batched UDP receive for the mixer workers (Linux, plain N-API, no dependency).
 *
 * One "receiver" per worker thread owns a set of non-blocking UDP sockets registered in one epoll set
 * (level-triggered). poll() asks epoll which sockets are readable (timeout 0) and drains each with
 * recvmmsg(MSG_DONTWAIT, up to 64 datagrams per call) into a caller-owned ArrayBuffer:
 *
 *   [8] i32 record count   [12] i32 more (buffer filled)   [16] i32 datagrams placed by the fast path (no record)
 *   [64 + i*80] record i:
 *        +0 i32 socket index   +4 i32 length   +8 i32 source port   +12 i32 flags (1 truncated, 2 IPv6)
 *        +16 f64 arrival time in the caller's clock (see poll)
 *        +24 4 bytes IPv4 source (network order)   +32 char[48] IPv6 source text (inet_ntop)
 *   [64 + slots*80 + i*slotSize] payload of record i
 *
 * Fast path: a socket given a stream block (attach) has its ordinary packets — valid RTP of the stream's payload
 * type and size, from its accepted IPv4 source — placed into the block's jitter buffer right here (stream.c), with
 * no record and no JS per packet; every other datagram of it (the first ones before the source is known, foreign,
 * malformed, IPv6) becomes a record for the JS path, which decides, counts, and may name the source for the block.
 *
 * Shared sockets (share): one socket serves many streams, and a datagram's IPv4 source finds its stream block in a
 * hash table (attachSource: the source Asterisk announced for the stream). One socket per stream costs an epoll report
 * and a recvmmsg per datagram at 50 datagrams/s; a shared socket's recvmmsg reads 64 at once (docs/performance.md, the
 * receive floor). A datagram from a source no stream announced, or IPv6, becomes a record: the JS path counts it.
 *
 * Arrival times: poll(id, clockNow) takes the caller's clock read just before the call and CLOCK_REALTIME at its
 * start; a datagram's arrival is clockNow − (that realtime − its kernel stamp, SO_TIMESTAMPNS) when positive, else
 * clockNow: a datagram that waited in the socket keeps its real arrival time, in the caller's (epoch-ms) clock.
 * Per socket, arrival times never go backwards.
 *
 * One call reads each readable socket once (what it holds then, up to PER_SOCKET datagrams): a worker that was stalled
 * reads everything that queued meanwhile before it plays the due slots, and a flood on one port cannot keep the call
 * going. When the buffer fills or a socket had more than PER_SOCKET, `more` is 1 and the caller processes the batch and polls again: nothing is left
 * behind by the batch logic (level-triggered epoll reports the sockets that still hold data).
 * Sockets are closed by close(), destroy(), or at the latest when the worker's environment is torn down
 * (instance-data finalizer), so a crashed worker never keeps its ports bound.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <emmintrin.h>
#include <math.h>
#include <netinet/in.h>
#include <node_api.h>
#include "dsp.h"
#include "stream.h"
#include "player.h"
#include "file_batch.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR_BYTES 64
#define REC_BYTES 80
#define MAX_BATCH 64
#define CTRL_BYTES 64
#define MAX_EVENTS 256
#define PER_SOCKET 512

/*
 * A stream on a shared socket: the datagrams from its source (IPv4 address and port, or any address with that port)
 * go to its block. Key: 1<<63 | socket index<<49 | wildcard<<48 | address<<16 | port (never 0).
 */
typedef struct {
  uint64_t key;
  double *block;
  double shape;
  napi_ref ref;
} source_t;

typedef struct {
  int epfd;
  int *fds; /* index -> fd, -1 when free */
  int nfds;
  double **blocks;      /* index -> attached stream block, or NULL */
  double *block_shape; /* index -> its shape (stream_block_shape) */
  napi_ref *block_refs; /* keeps each attached block's ArrayBuffer alive */
  double *last_arrival; /* index -> last arrival time given (monotonic per socket) */
  uint32_t *visited;    /* index -> the poll call that last read it (each socket is read once per call) */
  uint8_t *shared;      /* index -> 1: a shared socket, demultiplexed by source (sources[]) */
  uint32_t *nsources;   /* index -> sources registered on that shared socket */
  source_t *sources;    /* open-addressing table (linear probing), key 0 = empty */
  uint32_t sources_cap; /* a power of two, or 0 */
  uint32_t sources_count;
  uint32_t calls;
  uint32_t slots;
  uint32_t slot_size;
  uint8_t *buf; /* caller's ArrayBuffer (kept alive by the JS wrapper) */
  size_t buf_len;
  struct mmsghdr *msgs;
  struct iovec *iov;
  struct sockaddr_in6 *addrs;
  uint8_t *ctrl;
  struct epoll_event evs[MAX_EVENTS];
} receiver_t;

typedef struct {
  receiver_t **items;
  int count;
} registry_t;

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "ari_udp: N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static void detach(napi_env env, receiver_t *r, int idx) {
  if (r->block_refs[idx] && env) napi_delete_reference(env, r->block_refs[idx]);
  r->block_refs[idx] = NULL;
  r->blocks[idx] = NULL;
}

static inline uint64_t source_key(uint32_t idx, int wildcard, uint32_t addr, uint32_t port) {
  return (1ull << 63) | ((uint64_t)idx << 49) | ((uint64_t)(wildcard ? 1 : 0) << 48) | ((uint64_t)addr << 16) | (uint64_t)(port & 0xffff);
}

static inline uint32_t source_hash(uint64_t k, uint32_t mask) {
  k ^= k >> 33; /* murmur3's finalizer: source ports and addresses differ in a few low bits */
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return (uint32_t)k & mask;
}

/* The entry of `key`, probing from its home slot `i` (source_hash), or NULL. */
static source_t *source_find_from(receiver_t *r, uint64_t key, uint32_t i) {
  const uint32_t mask = r->sources_cap - 1;
  for (;; i = (i + 1) & mask) {
    if (r->sources[i].key == key) return &r->sources[i];
    if (r->sources[i].key == 0) return NULL;
  }
}

static source_t *source_find(receiver_t *r, uint64_t key) {
  if (!r->sources_cap) return NULL;
  return source_find_from(r, key, source_hash(key, r->sources_cap - 1));
}

/* Removes entry i, shifting back the entries of its probe run (no tombstones: lookups stay short). */
static void source_remove_at(napi_env env, receiver_t *r, uint32_t i) {
  const uint32_t mask = r->sources_cap - 1;
  if (r->sources[i].ref && env) napi_delete_reference(env, r->sources[i].ref);
  const uint32_t idx = (uint32_t)((r->sources[i].key >> 49) & 0x3fff);
  if (idx < (uint32_t)r->nfds && r->nsources[idx] > 0) r->nsources[idx]--;
  r->sources_count--;
  for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    if (r->sources[j].key == 0) break;
    const uint32_t home = source_hash(r->sources[j].key, mask);
    /* j's entry may move into the hole at i when its home is not in (i, j] (cyclically) */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      r->sources[i] = r->sources[j];
      i = j;
    }
  }
  memset(&r->sources[i], 0, sizeof r->sources[i]);
}

static void sources_of_socket_free(napi_env env, receiver_t *r, int idx) {
  for (uint32_t i = 0; i < r->sources_cap;) {
    /* removal shifts a later entry into i: look at i again */
    if (r->sources[i].key && (int)((r->sources[i].key >> 49) & 0x3fff) == idx)
      source_remove_at(env, r, i);
    else
      i++;
  }
}

static void receiver_free(napi_env env, receiver_t *r) {
  if (!r) return;
  for (uint32_t i = 0; i < r->sources_cap; i++)
    if (r->sources[i].ref && env) napi_delete_reference(env, r->sources[i].ref);
  free(r->sources);
  for (int i = 0; i < r->nfds; i++) {
    if (r->fds[i] >= 0) close(r->fds[i]);
    detach(env, r, i);
  }
  if (r->epfd >= 0) close(r->epfd);
  free(r->fds);
  free(r->blocks);
  free(r->block_shape);
  free(r->block_refs);
  free(r->last_arrival);
  free(r->visited);
  free(r->shared);
  free(r->nsources);
  free(r->msgs);
  free(r->iov);
  free(r->addrs);
  free(r->ctrl);
  free(r);
}

static void registry_finalize(napi_env env, void *data, void *hint) {
  registry_t *reg = (registry_t *)data;
  if (!reg) return;
  /* the environment is going away: its references go with it (deleting them here is not allowed) */
  for (int i = 0; i < reg->count; i++) receiver_free(NULL, reg->items[i]);
  players_release_all();
  free(reg->items);
  free(reg);
}

static registry_t *registry(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return (registry_t *)data;
}

static receiver_t *get_receiver(napi_env env, napi_value v) {
  int32_t id = -1;
  registry_t *reg = registry(env);
  if (napi_get_value_int32(env, v, &id) != napi_ok || !reg || id < 0 || id >= reg->count || !reg->items[id]) {
    napi_throw_error(env, NULL, "ari_udp: unknown receiver");
    return NULL;
  }
  return reg->items[id];
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *address, int port) {
  char msg[160];
  const char *code = NULL;
  switch (err) {
    case EADDRINUSE: code = "EADDRINUSE"; break;
    case EACCES: code = "EACCES"; break;
    case EADDRNOTAVAIL: code = "EADDRNOTAVAIL"; break;
    case EAFNOSUPPORT: code = "EAFNOSUPPORT"; break;
    case EINVAL: code = "EINVAL"; break;
    case EMFILE: code = "EMFILE"; break;
    case ENFILE: code = "ENFILE"; break;
    case ENOBUFS: code = "ENOBUFS"; break;
    case ENOMEM: code = "ENOMEM"; break;
    case EPERM: code = "EPERM"; break;
    default: code = "EIO"; break;
  }
  /* Same wording as Node's dgram: "bind EADDRINUSE 127.0.0.1:30000". */
  if (address)
    snprintf(msg, sizeof msg, "%s %s %s:%d", syscall, code, address, port);
  else
    snprintf(msg, sizeof msg, "%s %s", syscall, code);
  napi_throw_error(env, code, msg);
  return NULL;
}

/* create(buffer: ArrayBuffer, slots, slotSize) -> receiver id */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data = NULL;
  size_t len = 0;
  uint32_t slots = 0, slot_size = 0;
  if (argc < 3 || napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &slots) != napi_ok || napi_get_value_uint32(env, argv[2], &slot_size) != napi_ok) {
    napi_throw_type_error(env, NULL, "create(buffer: ArrayBuffer, slots: number, slotSize: number)");
    return NULL;
  }
  if (slots == 0 || slot_size < 16 || slot_size % 8 != 0 || len < (size_t)HDR_BYTES + (size_t)slots * (REC_BYTES + slot_size)) {
    napi_throw_range_error(env, NULL, "ari_udp: buffer too small for slots × (80 + slotSize) + 64, or slotSize not a multiple of 8");
    return NULL;
  }
  receiver_t *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, ENOMEM, "create", NULL, 0);
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (r->epfd < 0) {
    int e = errno;
    free(r);
    return throw_errno(env, e, "epoll_create1", NULL, 0);
  }
  r->slots = slots;
  r->slot_size = slot_size;
  r->buf = data;
  r->buf_len = len;
  r->msgs = calloc(slots, sizeof *r->msgs);
  r->iov = calloc(slots, sizeof *r->iov);
  r->addrs = calloc(slots, sizeof *r->addrs);
  r->ctrl = calloc(slots, CTRL_BYTES);
  if (!r->msgs || !r->iov || !r->addrs || !r->ctrl) {
    receiver_free(env, r);
    return throw_errno(env, ENOMEM, "create", NULL, 0);
  }
  uint8_t *payload = r->buf + HDR_BYTES + (size_t)slots * REC_BYTES;
  for (uint32_t i = 0; i < slots; i++) {
    r->iov[i].iov_base = payload + (size_t)i * slot_size;
    r->iov[i].iov_len = slot_size;
    struct msghdr *h = &r->msgs[i].msg_hdr;
    h->msg_name = &r->addrs[i];
    h->msg_iov = &r->iov[i];
    h->msg_iovlen = 1;
    h->msg_control = r->ctrl + (size_t)i * CTRL_BYTES;
  }
  registry_t *reg = registry(env);
  if (!reg) {
    receiver_free(env, r);
    napi_throw_error(env, NULL, "ari_udp: no instance data");
    return NULL;
  }
  int id = -1;
  for (int i = 0; i < reg->count; i++)
    if (!reg->items[i]) {
      id = i;
      break;
    }
  if (id < 0) {
    receiver_t **items = realloc(reg->items, sizeof(receiver_t *) * (reg->count + 1));
    if (!items) {
      receiver_free(env, r);
      return throw_errno(env, ENOMEM, "create", NULL, 0);
    }
    reg->items = items;
    id = reg->count++;
  }
  reg->items[id] = r;
  napi_value out;
  CHECK(napi_create_int32(env, id, &out));
  return out;
}

/* open(id, address, port, rcvbuf, ipv6) -> socket index; throws with .code = EADDRINUSE/EACCES/… */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "open(id, address, port, rcvbuf, ipv6)");
    return NULL;
  }
  receiver_t *r = get_receiver(env, argv[0]);
  if (!r) return NULL;
  char address[64];
  size_t alen = 0;
  int32_t port = 0, rcvbuf = 0;
  bool ipv6 = false;
  if (napi_get_value_string_utf8(env, argv[1], address, sizeof address, &alen) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || napi_get_value_int32(env, argv[3], &rcvbuf) != napi_ok ||
      napi_get_value_bool(env, argv[4], &ipv6) != napi_ok || port < 0 || port > 65535) {
    napi_throw_type_error(env, NULL, "open(id, address: string, port: 0..65535, rcvbuf: number, ipv6: boolean)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sslen;
  memset(&ss, 0, sizeof ss);
  if (ipv6) {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, address, &a6->sin6_addr) != 1) return throw_errno(env, EINVAL, "bind", address, port);
    sslen = sizeof *a6;
  } else {
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &a4->sin_addr) != 1) return throw_errno(env, EINVAL, "bind", address, port);
    sslen = sizeof *a4;
  }
  int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", address, port);
  /* FORCE (CAP_NET_ADMIN) may pass net.core.rmem_max; without the capability it fails and rmem_max caps the ask */
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "setsockopt", address, port);
  }
  int one = 1;
  /* Kernel arrival timestamps: the packet's age at read time is known, so polling adds no timing error. */
  (void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "bind", address, port);
  }
  int idx = -1;
  for (int i = 0; i < r->nfds; i++)
    if (r->fds[i] < 0) {
      idx = i;
      break;
    }
  if (idx < 0) {
    int *fds = realloc(r->fds, sizeof(int) * (r->nfds + 1));
    if (fds) r->fds = fds;
    double **blocks = fds ? realloc(r->blocks, sizeof(double *) * (r->nfds + 1)) : NULL;
    if (blocks) r->blocks = blocks;
    double *sizes = blocks ? realloc(r->block_shape, sizeof(double) * (r->nfds + 1)) : NULL;
    if (sizes) r->block_shape = sizes;
    napi_ref *refs = sizes ? realloc(r->block_refs, sizeof(napi_ref) * (r->nfds + 1)) : NULL;
    if (refs) r->block_refs = refs;
    double *last = refs ? realloc(r->last_arrival, sizeof(double) * (r->nfds + 1)) : NULL;
    if (last) r->last_arrival = last;
    uint32_t *visited = last ? realloc(r->visited, sizeof(uint32_t) * (r->nfds + 1)) : NULL;
    if (visited) r->visited = visited;
    uint8_t *shared = visited ? realloc(r->shared, r->nfds + 1) : NULL;
    if (shared) r->shared = shared;
    uint32_t *nsources = shared ? realloc(r->nsources, sizeof(uint32_t) * (r->nfds + 1)) : NULL;
    if (!nsources) {
      close(fd);
      return throw_errno(env, ENOMEM, "open", address, port);
    }
    r->nsources = nsources;
    idx = r->nfds++;
    r->blocks[idx] = NULL;
    r->block_refs[idx] = NULL;
  }
  r->last_arrival[idx] = -INFINITY;
  r->visited[idx] = r->calls;
  r->shared[idx] = 0;
  r->nsources[idx] = 0;
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.u32 = (uint32_t)idx;
  if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int e = errno;
    close(fd);
    r->fds[idx] = -1;
    return throw_errno(env, e, "epoll_ctl", address, port);
  }
  r->fds[idx] = fd;
  napi_value out;
  CHECK(napi_create_int32(env, idx, &out));
  return out;
}

/* The receiver and open socket named by (id, index) arguments; NULL (an exception thrown) when there is none. */
static receiver_t *get_socket(napi_env env, napi_value id, napi_value index, int32_t *idx) {
  receiver_t *r = get_receiver(env, id);
  if (!r) return NULL;
  if (napi_get_value_int32(env, index, idx) != napi_ok || *idx < 0 || *idx >= r->nfds || r->fds[*idx] < 0) {
    napi_throw_error(env, NULL, "ari_udp: socket is not open");
    return NULL;
  }
  return r;
}

/* A call whose first two arguments name an open socket (id, index) and that takes `want` arguments in all: fills
 * argv and idx, returns the receiver, or NULL with an exception thrown. */
static receiver_t *socket_call(napi_env env, napi_callback_info info, size_t want, napi_value *argv, int32_t *idx) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "ari_udp: missing arguments");
    return NULL;
  }
  return get_socket(env, argv[0], argv[1], idx);
}

/* close(id, index): closes one socket (unread datagrams are discarded, as with dgram's close). */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t idx = -1;
  receiver_t *r = socket_call(env, info, 2, argv, &idx);
  if (!r) return NULL;
  epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->fds[idx], NULL);
  close(r->fds[idx]);
  r->fds[idx] = -1;
  detach(env, r, idx);
  if (r->shared[idx]) sources_of_socket_free(env, r, idx);
  r->shared[idx] = 0;
  return NULL;
}

/* recvBuffer(id, index) -> the socket's SO_RCVBUF as the kernel set it (twice the ask, capped unless forced). */
static napi_value js_recv_buffer(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t idx = -1;
  receiver_t *r = socket_call(env, info, 2, argv, &idx);
  if (!r) return NULL;
  int v = 0;
  socklen_t vl = sizeof v;
  if (getsockopt(r->fds[idx], SOL_SOCKET, SO_RCVBUF, &v, &vl) != 0) return throw_errno(env, errno, "getsockopt", NULL, 0);
  napi_value out;
  CHECK(napi_create_int32(env, v, &out));
  return out;
}

#define MAX_SHARED_INDEX 0x3fff

/* share(id, index): the socket serves many streams, each found by its source (attachSource); no block of its own. */
static napi_value js_share(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t idx = -1;
  receiver_t *r = socket_call(env, info, 2, argv, &idx);
  if (!r) return NULL;
  if (idx > MAX_SHARED_INDEX || r->blocks[idx]) {
    napi_throw_range_error(env, NULL, "ari_udp: a shared socket needs an index ≤ 16383 and no block of its own");
    return NULL;
  }
  r->shared[idx] = 1;
  return NULL;
}

/* Reads (id, index of a shared socket, address: u32 or −1 for any, port, block) and returns the receiver and the key. */
static receiver_t *source_args(napi_env env, napi_callback_info info, napi_value *argv, int32_t *idx, uint64_t *key) {
  receiver_t *r = socket_call(env, info, 5, argv, idx);
  if (!r) return NULL;
  double addr = 0;
  int32_t port = 0;
  if (!r->shared[*idx] || napi_get_value_double(env, argv[2], &addr) != napi_ok || napi_get_value_int32(env, argv[3], &port) != napi_ok ||
      port < 1 || port > 65535 || !(addr == -1 || (addr >= 0 && addr <= 4294967295.0 && addr == floor(addr)))) {
    napi_throw_range_error(env, NULL, "ari_udp: (shared socket, address: 0..2^32−1 or −1 for any, port: 1..65535)");
    return NULL;
  }
  *key = source_key((uint32_t)*idx, addr < 0, addr < 0 ? 0 : (uint32_t)addr, (uint32_t)port);
  return r;
}

static int sources_grow(receiver_t *r) {
  const uint32_t cap = r->sources_cap ? r->sources_cap * 2 : 64;
  source_t *old = r->sources;
  const uint32_t old_cap = r->sources_cap;
  source_t *tab = calloc(cap, sizeof *tab);
  if (!tab) return 0;
  for (uint32_t i = 0; i < old_cap; i++) {
    if (!old[i].key) continue;
    uint32_t j = source_hash(old[i].key, cap - 1);
    while (tab[j].key) j = (j + 1) & (cap - 1);
    tab[j] = old[i];
  }
  free(old);
  r->sources = tab;
  r->sources_cap = cap;
  return 1;
}

/*
 * attachSource(id, index, address, port, block): the shared socket's datagrams from that source go to this stream
 * block (stream.h's fast path, which checks the source again). A source already attached is taken over: Asterisk
 * gives a freed RTP port to its next channel, and the newest announcement is the one sending.
 */
static napi_value js_attach_source(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t idx = -1;
  uint64_t key = 0;
  receiver_t *r = source_args(env, info, argv, &idx, &key);
  if (!r) return NULL;
  void *data = NULL;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, argv[4], &data, &len) != napi_ok || !stream_block_valid((const double *)data, len)) {
    napi_throw_range_error(env, NULL, "ari_udp: attachSource needs a stream block (stream-block.ts)");
    return NULL;
  }
  source_t *e = source_find(r, key);
  if (!e) {
    if ((r->sources_count + 1) * 2 > r->sources_cap && !sources_grow(r)) return throw_errno(env, ENOMEM, "attachSource", NULL, 0);
    uint32_t j = source_hash(key, r->sources_cap - 1);
    while (r->sources[j].key) j = (j + 1) & (r->sources_cap - 1);
    e = &r->sources[j];
    e->key = key;
    r->sources_count++;
    r->nsources[idx]++;
  } else if (e->ref) {
    napi_delete_reference(env, e->ref);
  }
  e->ref = NULL;
  CHECK(napi_create_reference(env, argv[4], 1, &e->ref));
  e->block = (double *)data;
  e->shape = stream_block_shape((const double *)data, len);
  return NULL;
}

/* detachSource(id, index, address, port, block): forgets the source, if it still leads to that block. */
static napi_value js_detach_source(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t idx = -1;
  uint64_t key = 0;
  receiver_t *r = source_args(env, info, argv, &idx, &key);
  if (!r) return NULL;
  void *data = NULL;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, argv[4], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "detachSource(id, index, address, port, block: ArrayBuffer)");
    return NULL;
  }
  source_t *e = source_find(r, key);
  if (e && e->block == (double *)data) source_remove_at(env, r, (uint32_t)(e - r->sources));
  return NULL;
}

/* attach(id, index, block: ArrayBuffer): the socket's ordinary packets are placed into this stream block (stream.h). */
static napi_value js_attach(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t idx = -1;
  receiver_t *r = socket_call(env, info, 3, argv, &idx);
  if (!r) return NULL;
  void *data = NULL;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, argv[2], &data, &len) != napi_ok || !stream_block_valid((const double *)data, len)) {
    napi_throw_range_error(env, NULL, "ari_udp: attach needs a stream block (stream-block.ts)");
    return NULL;
  }
  detach(env, r, idx);
  CHECK(napi_create_reference(env, argv[2], 1, &r->block_refs[idx]));
  r->blocks[idx] = (double *)data;
  r->block_shape[idx] = stream_block_shape((const double *)data, len);
  return NULL;
}

/* A datagram's source: its IPv4 address as a number (−1: IPv6), and its port. */
static inline double source_of(const struct sockaddr *sa, int32_t *sport) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
    *sport = ntohs(a4->sin_port);
    return (double)ntohl(a4->sin_addr.s_addr);
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
    *sport = ntohs(a6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
      uint32_t v;
      memcpy(&v, a6->sin6_addr.s6_addr + 12, 4);
      return (double)ntohl(v);
    }
  }
  return -1;
}

#define PREFETCH_AHEAD 8
#define ENTRY_AHEAD 4 /* < PREFETCH_AHEAD: a datagram's entry is asked for once its block's fields have arrived */

/* The stream block's hot state fields (stream.h: the lines an ordinary packet's placement uses), about to be read and written. */
static inline void prefetch_fields(const double *f) {
  for (int k = 0; k < STREAM_HOT_LINES * 64; k += 64) __builtin_prefetch((const char *)f + k, 1, 3);
}

static inline double timespec_ms(const struct timespec *t) { return (double)t->tv_sec * 1000.0 + (double)t->tv_nsec / 1e6; }

/*
 * poll(id, clockNow[, realtimeStartMs]) -> number of records written; header +12 = 1 when the buffer filled (poll
 * again). The third argument (tests only) stands for this call's own CLOCK_REALTIME reading.
 */
static napi_value js_poll(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  receiver_t *r = argc >= 2 ? get_receiver(env, argv[0]) : NULL;
  if (!r) return NULL;
  double clock_now = 0, start_ms = 0;
  if (napi_get_value_double(env, argv[1], &clock_now) != napi_ok || (argc >= 3 && napi_get_value_double(env, argv[2], &start_ms) != napi_ok)) {
    napi_throw_type_error(env, NULL, "poll(id, clockNow: number)");
    return NULL;
  }
  if (argc < 3) {
    struct timespec start;
    clock_gettime(CLOCK_REALTIME, &start);
    start_ms = timespec_ms(&start);
  }
  uint32_t n = 0, placed = 0;
  int more = 0;
  const uint32_t call = ++r->calls;
  for (;;) {
    int ne = epoll_wait(r->epfd, r->evs, MAX_EVENTS, 0);
    if (ne < 0 && errno == EINTR) continue;
    if (ne <= 0) break;
    int fresh = 0; /* sockets of this batch not read yet in this call */
    for (int e = 0; e < ne; e++) {
      uint32_t idx = r->evs[e].data.u32;
      if ((int)idx >= r->nfds || r->fds[idx] < 0 || r->visited[idx] == call) continue;
      r->visited[idx] = call;
      fresh++;
      int fd = r->fds[idx];
      uint32_t from_socket = 0;
      for (;;) {
        if (n >= r->slots) {
          more = 1;
          goto done;
        }
        /* a shared socket holds many streams' datagrams: its share of a call grows with them */
        if (from_socket >= PER_SOCKET * (r->nsources[idx] > 1 ? r->nsources[idx] : 1)) {
          more = 1; /* a flood (or a long stall): the rest at the next call, after the other sockets */
          break;
        }
        uint32_t want = r->slots - n;
        if (want > MAX_BATCH) want = MAX_BATCH;
        for (uint32_t j = n; j < n + want; j++) {
          r->msgs[j].msg_hdr.msg_namelen = sizeof(struct sockaddr_in6);
          r->msgs[j].msg_hdr.msg_controllen = CTRL_BYTES;
          r->msgs[j].msg_hdr.msg_flags = 0;
          r->msgs[j].msg_len = 0;
        }
        int got = recvmmsg(fd, &r->msgs[n], want, MSG_DONTWAIT, NULL);
        if (got < 0) {
          if (errno == EINTR) continue;
          break; /* EAGAIN (drained) or a socket error (consumed): next socket */
        }
        uint32_t kept = n; /* records are compacted: a datagram placed by the fast path leaves none */
        const int shared = r->shared[idx];
        source_t *found[MAX_BATCH];
        double src_addr[MAX_BATCH];
        int32_t src_port[MAX_BATCH];
        for (int j = 0; j < got; j++) src_addr[j] = source_of((const struct sockaddr *)&r->addrs[n + (uint32_t)j], &src_port[j]);
        if (shared && !r->sources_cap) memset(found, 0, sizeof(found[0]) * (size_t)got); /* nothing announced yet */
        if (shared && r->sources_cap) {
          /* Each datagram's stream first, and the first blocks' fields on their way into the cache: with thousands
           * of streams every block is a cache miss, and the misses of a batch then overlap. So do the table's: every
           * datagram's home slot is asked for before the first lookup reads one. */
          const uint32_t mask = r->sources_cap - 1;
          uint64_t key[MAX_BATCH];
          uint32_t home[MAX_BATCH];
          for (int j = 0; j < got; j++) {
            key[j] = source_key(idx, 0, src_addr[j] >= 0 ? (uint32_t)src_addr[j] : 0, (uint32_t)src_port[j]);
            home[j] = source_hash(key[j], mask);
            __builtin_prefetch(&r->sources[home[j]], 0, 3);
          }
          for (int j = 0; j < got; j++) {
            const double addr4 = src_addr[j];
            const int32_t sport = src_port[j];
            source_t *e = NULL;
            if (addr4 >= 0) {
              /* the stream of this source: exactly, else an announced wildcard address with this port */
              e = source_find_from(r, key[j], home[j]);
              if (!e) e = source_find(r, source_key(idx, 1, 0, (uint32_t)sport));
            }
            found[j] = e;
            if (e && j < PREFETCH_AHEAD) prefetch_fields(e->block);
          }
        }
        for (int j = 0; j < got; j++) {
          uint32_t i = n + (uint32_t)j;
          struct msghdr *h = &r->msgs[i].msg_hdr;
          const uint32_t len = r->msgs[i].msg_len;
          int32_t flags = (h->msg_flags & MSG_TRUNC) ? 1 : 0;
          double arrival = clock_now;
          for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
              struct timespec t;
              memcpy(&t, CMSG_DATA(c), sizeof t);
              /* Negative for a datagram that came after this call began (a long drain, or the thread descheduled
               * in the middle of it): it arrived after clockNow, and saying clockNow would date it early by as much
               * (a stall of 300 ms in a poll then shifted streams back and forth). Beyond a second: a clock step. */
              const double age = start_ms - timespec_ms(&t);
              if (age > -1000) arrival = clock_now - age;
            }
          }
          if (arrival < r->last_arrival[idx]) arrival = r->last_arrival[idx];
          r->last_arrival[idx] = arrival;
          const struct sockaddr *sa = (const struct sockaddr *)&r->addrs[i];
          const int32_t sport = src_port[j];
          const double addr4 = src_addr[j];
          double *block = r->blocks[idx];
          double shape = r->block_shape[idx];
          uint8_t *payload = r->buf + HDR_BYTES + (size_t)r->slots * REC_BYTES;
          if (shared) {
            source_t *e = found[j];
            block = e ? e->block : NULL;
            shape = e ? e->shape : 0;
            if (j + PREFETCH_AHEAD < got && found[j + PREFETCH_AHEAD]) prefetch_fields(found[j + PREFETCH_AHEAD]->block);
            /* datagram k's block fields, asked for PREFETCH_AHEAD datagrams ago, are here: ask for the ring entry k will go to */
            const int k = j + ENTRY_AHEAD;
            if (k < got && found[k])
              stream_prefetch_entry(found[k]->block, found[k]->shape, payload + (size_t)(n + (uint32_t)k) * r->slot_size, r->msgs[n + (uint32_t)k].msg_len);
          }
          if (block && !flags && stream_fast_packet(block, shape, payload + (size_t)i * r->slot_size, len, addr4, sport, arrival)) {
            placed++;
            continue;
          }
          const uint32_t k = kept++;
          if (k != i) memmove(payload + (size_t)k * r->slot_size, payload + (size_t)i * r->slot_size, len < r->slot_size ? len : r->slot_size);
          uint8_t *rec = r->buf + HDR_BYTES + (size_t)k * REC_BYTES;
          if (sa->sa_family == AF_INET) {
            memcpy(rec + 24, &((const struct sockaddr_in *)sa)->sin_addr, 4);
          } else if (sa->sa_family == AF_INET6) {
            flags |= 2;
            if (!inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, (char *)rec + 32, 48)) rec[32] = 0;
          }
          int32_t idx32 = (int32_t)idx, len32 = (int32_t)len;
          memcpy(rec + 0, &idx32, 4);
          memcpy(rec + 4, &len32, 4);
          memcpy(rec + 8, &sport, 4);
          memcpy(rec + 12, &flags, 4);
          memcpy(rec + 16, &arrival, 8);
        }
        n = kept;
        from_socket += (uint32_t)got;
        if ((uint32_t)got < want) break; /* short batch: the socket is drained */
      }
    }
    /* level-triggered epoll lists what is still readable, read sockets last: a batch with none left unread ends it */
    if (ne < MAX_EVENTS || fresh == 0) break;
  }
done:
  _mm_sfence(); /* the ring entries' streaming stores (stream_push) are ordered before whatever follows */
  {
    int32_t n32 = (int32_t)n, more32 = more, placed32 = (int32_t)placed;
    memcpy(r->buf + 8, &n32, 4);
    memcpy(r->buf + 12, &more32, 4);
    memcpy(r->buf + 16, &placed32, 4);
  }
  napi_value out;
  CHECK(napi_create_uint32(env, n, &out));
  return out;
}

/* destroy(id): closes every socket and the epoll set. */
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  receiver_t *r = argc >= 1 ? get_receiver(env, argv[0]) : NULL;
  if (!r) return NULL;
  registry_t *reg = registry(env);
  for (int i = 0; i < reg->count; i++)
    if (reg->items[i] == r) reg->items[i] = NULL;
  receiver_free(env, r);
  return NULL;
}

/* openSockets(id) -> number of sockets open (tests). */
static napi_value js_open_sockets(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  receiver_t *r = argc >= 1 ? get_receiver(env, argv[0]) : NULL;
  if (!r) return NULL;
  int count = 0;
  for (int i = 0; i < r->nfds; i++)
    if (r->fds[i] >= 0) count++;
  napi_value out;
  CHECK(napi_create_int32(env, count, &out));
  return out;
}

/*
 * Sender side, for the bench's load generator (the product only receives): a blocking UDP socket and
 * sendmmsg of a whole batch, so the generator costs the machine under test as little as Asterisk would.
 */

/*
 * senderOpen(host, sndbuf[, port]) -> fd of a blocking IPv4 UDP socket bound to host:port (0: any port). With a port,
 * SO_REUSEPORT: several generator processes send from the same port, each stream from its own address (sendBatch).
 */
static napi_value js_sender_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char host[64];
  size_t hlen = 0;
  int32_t sndbuf = 0, port = 0;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hlen) != napi_ok ||
      napi_get_value_int32(env, argv[1], &sndbuf) != napi_ok || (argc >= 3 && napi_get_value_int32(env, argv[2], &port) != napi_ok) ||
      port < 0 || port > 65535) {
    napi_throw_type_error(env, NULL, "senderOpen(host: string, sndbuf: number, port?: 0..65535)");
    return NULL;
  }
  struct sockaddr_in a4;
  memset(&a4, 0, sizeof a4);
  a4.sin_family = AF_INET;
  a4.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a4.sin_addr) != 1) return throw_errno(env, EINVAL, "bind", host, port);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", host, port);
  if (port) {
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  }
  if (sndbuf > 0) (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  if (bind(fd, (struct sockaddr *)&a4, sizeof a4) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "bind", host, port);
  }
  napi_value out;
  CHECK(napi_create_int32(env, fd, &out));
  return out;
}

#define SEND_CHUNK 256

/* sendBatch(fd, buffer, count, stride, ports: Int32Array, host[, sources: Uint32Array]) -> datagrams sent: datagram i
 * is the `stride` bytes at i × stride of `buffer`, sent to host:ports[i], from address sources[i] when given
 * (IP_PKTINFO; on loopback every 127/8 address is ours: one socket sends as many sources). */
static napi_value js_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  uint32_t count = 0, stride = 0;
  void *data = NULL;
  size_t len = 0;
  napi_typedarray_type type;
  size_t nports = 0;
  void *ports_data = NULL;
  char host[64];
  size_t hlen = 0;
  if (argc < 6 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_arraybuffer_info(env, argv[1], &data, &len) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &count) != napi_ok || napi_get_value_uint32(env, argv[3], &stride) != napi_ok ||
      napi_get_typedarray_info(env, argv[4], &type, &nports, &ports_data, NULL, NULL) != napi_ok || type != napi_int32_array ||
      napi_get_value_string_utf8(env, argv[5], host, sizeof host, &hlen) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendBatch(fd, buffer: ArrayBuffer, count, stride, ports: Int32Array, host: string)");
    return NULL;
  }
  const uint32_t *sources = NULL;
  if (argc >= 7) {
    napi_typedarray_type stype;
    size_t nsrc = 0;
    void *src_data = NULL;
    if (napi_get_typedarray_info(env, argv[6], &stype, &nsrc, &src_data, NULL, NULL) != napi_ok || stype != napi_uint32_array || nsrc < count) {
      napi_throw_type_error(env, NULL, "sendBatch: sources must be a Uint32Array with one address per datagram");
      return NULL;
    }
    sources = (const uint32_t *)src_data;
  }
  if (stride == 0 || nports < count || (size_t)count * stride > len) {
    napi_throw_range_error(env, NULL, "ari_udp: count × stride exceeds the buffer, or fewer ports than datagrams");
    return NULL;
  }
  struct in_addr dst;
  if (inet_pton(AF_INET, host, &dst) != 1) return throw_errno(env, EINVAL, "sendmmsg", host, 0);
  const int32_t *ports = (const int32_t *)ports_data;
  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iov[SEND_CHUNK];
  struct sockaddr_in to[SEND_CHUNK];
  static __thread uint8_t ctrl[SEND_CHUNK][CMSG_SPACE(sizeof(struct in_pktinfo))];
  uint32_t sent = 0;
  while (sent < count) {
    uint32_t n = count - sent < SEND_CHUNK ? count - sent : SEND_CHUNK;
    memset(msgs, 0, sizeof(struct mmsghdr) * n);
    for (uint32_t j = 0; j < n; j++) {
      uint32_t i = sent + j;
      iov[j].iov_base = (uint8_t *)data + (size_t)i * stride;
      iov[j].iov_len = stride;
      memset(&to[j], 0, sizeof to[j]);
      to[j].sin_family = AF_INET;
      to[j].sin_addr = dst;
      to[j].sin_port = htons((uint16_t)ports[i]);
      msgs[j].msg_hdr.msg_name = &to[j];
      msgs[j].msg_hdr.msg_namelen = sizeof to[j];
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
      if (sources) {
        memset(ctrl[j], 0, sizeof ctrl[j]);
        msgs[j].msg_hdr.msg_control = ctrl[j];
        msgs[j].msg_hdr.msg_controllen = sizeof ctrl[j];
        struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[j].msg_hdr);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        pi.ipi_spec_dst.s_addr = htonl(sources[i]);
        memcpy(CMSG_DATA(c), &pi, sizeof pi);
      }
    }
    int got = sendmmsg(fd, msgs, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      /* a refused or unreachable port (ICMP from an earlier datagram): skip that datagram, go on */
      if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) {
        sent++;
        continue;
      }
      return throw_errno(env, errno, "sendmmsg", host, 0);
    }
    sent += (uint32_t)got;
  }
  napi_value out;
  CHECK(napi_create_uint32(env, sent, &out));
  return out;
}

/* senderClose(fd) */
static napi_value js_sender_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0) close(fd);
  return NULL;
}

NAPI_MODULE_INIT() {
  registry_t *reg = registry(env);
  if (!reg) {
    reg = calloc(1, sizeof *reg);
    if (!reg || napi_set_instance_data(env, reg, registry_finalize, NULL) != napi_ok) {
      free(reg);
      napi_throw_error(env, NULL, "ari_udp: cannot set instance data");
      return NULL;
    }
  }
  napi_property_descriptor props[] = {
    {"create", NULL, js_create, NULL, NULL, NULL, napi_enumerable, NULL},
    {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
    {"attach", NULL, js_attach, NULL, NULL, NULL, napi_enumerable, NULL},
    {"streamFields", NULL, js_stream_fields, NULL, NULL, NULL, napi_enumerable, NULL},
    {"streamPush", NULL, js_stream_push, NULL, NULL, NULL, napi_enumerable, NULL},
    {"streamBlock", NULL, js_stream_block, NULL, NULL, NULL, napi_enumerable, NULL},
    {"playerAdd", NULL, js_player_add, NULL, NULL, NULL, napi_enumerable, NULL},
    {"playerRemove", NULL, js_player_remove, NULL, NULL, NULL, napi_enumerable, NULL},
    {"playerSetOut", NULL, js_player_set_out, NULL, NULL, NULL, napi_enumerable, NULL},
    {"playerTick", NULL, js_player_tick, NULL, NULL, NULL, napi_enumerable, NULL},
    {"playerCount", NULL, js_player_count, NULL, NULL, NULL, napi_enumerable, NULL},
    {"poll", NULL, js_poll, NULL, NULL, NULL, napi_enumerable, NULL},
    {"destroy", NULL, js_destroy, NULL, NULL, NULL, napi_enumerable, NULL},
    {"openSockets", NULL, js_open_sockets, NULL, NULL, NULL, napi_enumerable, NULL},
    {"recvBuffer", NULL, js_recv_buffer, NULL, NULL, NULL, napi_enumerable, NULL},
    {"share", NULL, js_share, NULL, NULL, NULL, napi_enumerable, NULL},
    {"attachSource", NULL, js_attach_source, NULL, NULL, NULL, napi_enumerable, NULL},
    {"detachSource", NULL, js_detach_source, NULL, NULL, NULL, napi_enumerable, NULL},
    {"senderOpen", NULL, js_sender_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sendBatch", NULL, js_send_batch, NULL, NULL, NULL, napi_enumerable, NULL},
    {"senderClose", NULL, js_sender_close, NULL, NULL, NULL, napi_enumerable, NULL},
    {"halfbandInt16", NULL, js_halfband_int16, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dspLevel", NULL, js_dsp_level, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mix2HalfbandInt16", NULL, js_mix2_halfband_int16, NULL, NULL, NULL, napi_enumerable, NULL},
    {"writeBatch", NULL, js_write_batch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value abi;
  CHECK(napi_create_int32(env, 12, &abi));
  napi_property_descriptor v = {"abi", NULL, NULL, NULL, NULL, abi, napi_enumerable, NULL};
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  CHECK(napi_define_properties(env, exports, 1, &v));
  return exports;
}
