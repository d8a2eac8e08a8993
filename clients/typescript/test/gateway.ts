// A gateway of the test's own, started from the built binary beside the stack's services, so that
// a test can stop it and start it again (the phone going offline and back) without touching the
// stack's gateway. `WELLBEING_GATEWAY_BIN` names the binary and `WELLBEING_SPARE_ADDR` its listen
// address; the stack's settings (ANALYTICS_URL, CACHE_URL, AGGREGATOR_URL, JWT_SECRET) are
// inherited, so tokens of either gateway work on both.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

export class OwnGateway {
  private child: ChildProcess | undefined;
  readonly url: string;

  private constructor(
    private readonly binary: string,
    private readonly address: string,
  ) {
    this.url = `http://${address}`;
  }

  /** The test's own gateway, when the environment names one. */
  static fromEnv(): OwnGateway | undefined {
    const binary = process.env.WELLBEING_GATEWAY_BIN;
    const address = process.env.WELLBEING_SPARE_ADDR;
    return binary && address ? new OwnGateway(binary, address) : undefined;
  }

  async start(): Promise<void> {
    const child = spawn(this.binary, [], {
      env: { ...process.env, GATEWAY_ADDR: this.address, RUST_LOG: "warn" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    this.child = child;
    let exited = false;
    child.once("exit", () => {
      exited = true;
    });
    // Readiness polled, bounded: 200 tries 50 ms apart.
    for (let attempt = 0; attempt < 200; attempt += 1) {
      if (exited) throw new Error("the test's gateway exited at start");
      try {
        const answer = await fetch(`${this.url}/livez`);
        if (answer.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the test's gateway did not answer on ${this.url}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await exited;
  }
}
