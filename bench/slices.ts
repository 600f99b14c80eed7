/**
 * Watches objects of a namespace (one long `kubectl get --watch`, started before anything is timed) and tells when
 * what they show became a given value, with the time the event arrived:
 * - {@link sliceWatch}: the set of ready pods behind a Service (its EndpointSlices): the moment traffic really
 *   moved. The same watch times the release command and the raw `kubectl patch`, so neither measurement includes
 *   polling delays of its own.
 * - {@link selectorWatch}: a Service's `slot` selector: the moment the API server took the patch.
 */
import { ChildProcess, spawn } from 'child_process';
import { now } from './cli';

interface KubeObject {
  metadata: { name: string };
  spec?: { selector?: Record<string, string> };
  endpoints?: { targetRef?: { name?: string }; conditions?: { ready?: boolean } }[];
}

interface WatchEvent {
  type: string;
  object: KubeObject;
}

export class Watch {
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: { t: number; value: string }[] = [];
  private readonly waiters = new Set<() => void>();
  private child?: ChildProcess;
  private buffer = '';

  constructor(
    private readonly args: readonly string[],
    /** What the watched objects show, as one string (compared with {@link waitFor}'s value). */
    private readonly value: (objects: KubeObject[]) => string,
  ) {}

  /** Starts the watch and waits for its first event (the current objects). */
  async start(): Promise<void> {
    const child = spawn('kubectl', [...this.args, '--watch', '--output-watch-events', '-o', 'json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout.on('data', (b: Buffer) => this.onData(b.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`kubectl ${this.args.join(' ')} --watch: no event in 30 s`)),
        30_000,
      );
      const ready = (): void => {
        clearTimeout(timer);
        this.waiters.delete(ready);
        resolve();
      };
      this.waiters.add(ready);
      child.once('exit', (code) => reject(new Error(`kubectl --watch exited ${code}`)));
    });
  }

  stop(): void {
    this.child?.kill();
  }

  current(): string {
    return this.value([...this.objects.values()]);
  }

  private onData(text: string): void {
    this.buffer += text;
    let end: number;
    // With --output-watch-events, each event is one line of JSON (a jsonpath template prints only the first one).
    while ((end = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, end).trim();
      this.buffer = this.buffer.slice(end + 1);
      if (line === '') {
        continue;
      }
      const event = JSON.parse(line) as WatchEvent;
      if (event.type === 'DELETED') {
        this.objects.delete(event.object.metadata.name);
      } else {
        this.objects.set(event.object.metadata.name, event.object);
      }
      this.history.push({ t: now(), value: this.current() });
      for (const w of [...this.waiters]) {
        w();
      }
    }
  }

  /** The first time at or after `since` when the watched objects showed `value`. */
  async waitFor(value: string, since: number, timeoutMs = 120_000): Promise<number> {
    const found = (): number | undefined => this.history.find((h) => h.t >= since && h.value === value)?.t;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = found();
      if (t !== undefined) {
        return t;
      }
      if (Date.now() > deadline) {
        throw new Error(`kubectl ${this.args.join(' ')}: never showed ${value} (now: ${this.current()})`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        const w = (): void => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve();
        };
        this.waiters.add(w);
      });
    }
  }
}

/** The ready pods behind Service `service`, sorted and joined by commas. */
export function sliceWatch(namespace: string, service: string): Watch {
  return new Watch(
    ['-n', namespace, 'get', 'endpointslices', '-l', `kubernetes.io/service-name=${service}`],
    (slices) =>
      [
        ...new Set(
          slices.flatMap((s) =>
            (s.endpoints ?? [])
              .filter((e) => e.conditions?.ready === true && e.targetRef?.name)
              .map((e) => e.targetRef?.name as string),
          ),
        ),
      ]
        .sort()
        .join(','),
  );
}

/** The `slot` selector of Service `service`. */
export function selectorWatch(namespace: string, service: string): Watch {
  return new Watch(
    ['-n', namespace, 'get', 'service', '--field-selector', `metadata.name=${service}`],
    (services) => services.map((s) => s.spec?.selector?.slot ?? '').join(','),
  );
}
