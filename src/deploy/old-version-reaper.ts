// --undeploy-old-versions (Tomcat's Host attribute of the same name): a version that is no longer the
// highest and has no live session left is unloaded, and its bundle moved to the retired folder (never
// deleted: moving it back redeploys it). Checked every `everyMs`; sessions end by expiry (the session
// manager's sweep) or adoption, so a periodic look is what notices the last one going.
import type { DeployedVersion, Registry } from '../apps/registry.ts';
import type { Logger } from '../log.ts';
import type { SessionManager } from '../sessions/manager.ts';

export interface OldVersionReaperOptions {
  readonly registry: Registry;
  readonly sessions: SessionManager;
  readonly logger: Logger;
  readonly everyMs: number;
  /** Undeploys the version and moves its bundle away (Deployer.retire); resolves to where it went. */
  readonly retire: (version: DeployedVersion) => Promise<string>;
}

export class OldVersionReaper {
  readonly #o: OldVersionReaperOptions;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | null = null;

  constructor(options: OldVersionReaperOptions) {
    this.#o = options;
  }

  start(): void {
    this.#timer = setInterval(() => void this.check(), this.#o.everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#checking;
  }

  /** One look at every app; resolves once the versions it found unused are retired. */
  check(): Promise<void> {
    this.#checking ??= this.#checkAll().finally(() => {
      this.#checking = null;
    });
    return this.#checking;
  }

  async #checkAll(): Promise<void> {
    for (const app of [...this.#o.registry.apps]) {
      const target = app.newSessionTarget;
      if (target === undefined) continue;
      // 'draining' means serving but below the new-session target (Registry): superseded. Checks run
      // one at a time and await each retirement, so no version is picked twice.
      const old = app.versions.filter((v) => v.state === 'draining');
      if (old.length === 0) continue;
      let counts: Map<string, number>;
      try {
        counts = await this.#o.sessions.countByVersion(app.name);
      } catch (err) {
        this.#o.logger.warn({ app: app.name, err }, 'cannot count sessions, old versions kept for now');
        continue;
      }
      for (const version of old) {
        if ((counts.get(version.key) ?? 0) > 0 || version.state !== 'draining') continue;
        await this.#retire(version, target);
      }
    }
  }

  async #retire(version: DeployedVersion, newest: DeployedVersion): Promise<void> {
    try {
      const movedTo = await this.#o.retire(version);
      this.#o.logger.info({ app: version.app.name, version: version.label, newest: newest.label, retired: movedTo }, 'old version undeployed, no session left');
    } catch (err) {
      this.#o.logger.error({ app: version.app.name, version: version.label, err }, 'undeploying an old version failed');
    }
  }
}
