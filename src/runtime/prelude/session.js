// The session an app sees as ctx.session. The host owns sessions: it hands a snapshot in with the
// request, and this object records what the handler changed, key by key. The changes travel back
// with the response (one JSON "delta"), so two concurrent requests of one session never overwrite
// each other's other keys.
export class Session {
  #id;
  #snapshot; // the host's snapshot (see wire.ts sessionData), split on first use
  #data = null; // Map key -> JSON text
  #set = null; // Map key -> JSON text
  #deleted = null; // Set of keys
  #invalid = false;
  #rotatedTo = null;
  #newSessionId;

  constructor(id, snapshot, newSessionId) {
    this.#id = id;
    this.#snapshot = snapshot;
    this.#newSessionId = newSessionId;
  }

  get id() { return this.#rotatedTo ?? this.#id; }
  get valid() { return !this.#invalid; }

  #values() {
    if (this.#data === null) {
      this.#data = new Map();
      if (this.#snapshot) {
        // '"key"\u0001value JSON\u0001…': the values stay the JSON texts #data holds, nothing is
        // re-encoded. JSON text never contains a raw U+0001, so the split is exact.
        const parts = this.#snapshot.split('\u0001');
        for (let i = 0; i + 1 < parts.length; i += 2) {
          const key = parts[i];
          this.#data.set(key.indexOf('\\') === -1 ? key.slice(1, -1) : JSON.parse(key), parts[i + 1]);
        }
      }
    }
    return this.#data;
  }

  #live() {
    if (this.#invalid) throw new TypeError('This session was invalidated; call ctx.createSession() for a new one');
  }

  get(key) {
    this.#live();
    const raw = this.#values().get(String(key));
    return raw === undefined ? undefined : JSON.parse(raw);
  }

  has(key) { this.#live(); return this.#values().has(String(key)); }

  set(key, value) {
    this.#live();
    const name = String(key);
    const json = stringify(name, value);
    this.#values().set(name, json);
    (this.#set ??= new Map()).set(name, json);
    this.#deleted?.delete(name);
  }

  delete(key) {
    this.#live();
    const name = String(key);
    const had = this.#values().delete(name);
    this.#set?.delete(name);
    (this.#deleted ??= new Set()).add(name);
    return had;
  }

  keys() { this.#live(); return [...this.#values().keys()]; }

  invalidate() { this.#invalid = true; }

  /** Gives the session a new id (and cookie), keeping data and version: call it on login. */
  rotate() {
    this.#live();
    this.#rotatedTo = this.#newSessionId();
    return this.#rotatedTo;
  }

  toJSON() { return { id: this.id }; }

  /**
   * What changed, as the host decodes it (src/runtime/wire.ts SessionDelta), or null when nothing did:
   * id, flags ('c' created, 'i' invalidated), rotated-to id, the number of keys set, then the set
   * keys (JSON-quoted) with their JSON values, then the deleted keys, all joined by U+0001.
   */
  delta(created) {
    if (!created && !this.#invalid && this.#set === null && this.#deleted === null && this.#rotatedTo === null) return null;
    let out = this.#id + '\u0001' + (created ? 'c' : '') + (this.#invalid ? 'i' : '') + '\u0001' + (this.#rotatedTo ?? '') + '\u0001' + (this.#set === null ? 0 : this.#set.size);
    if (this.#set !== null) for (const [k, v] of this.#set) out += '\u0001' + stringifyJson(k) + '\u0001' + v;
    if (this.#deleted !== null) for (const k of this.#deleted) out += '\u0001' + stringifyJson(k);
    return out;
  }
}

// Captured now: what the app does to JSON must not change what the host is told (see also stringify).
const stringifyJson = JSON.stringify;

function stringify(key, value) {
  let json;
  try {
    json = stringifyJson(value);
  } catch (err) {
    throw new TypeError(`session.set("${key}"): value is not JSON-serializable (${err && err.message})`);
  }
  if (json === undefined) {
    throw new TypeError(`session.set("${key}"): value is not JSON-serializable (${typeof value}); use session.delete("${key}") to remove a key`);
  }
  return json;
}
