// A real RTSP server for the live tests: Debian's RTSP::Server (librtsp-server-perl, the library behind
// rtsp-server-perl), run on loopback with ports of the test's choosing. A publisher (ffmpeg -f rtsp) ANNOUNCEs and
// RECORDs a stream to its source port; clients DESCRIBE/SETUP/PLAY it from its client port (RTP over UDP, loopback).
// The packaged rtsp-server-perl script listens on 0.0.0.0 and fixed RTP ports; this runs the library directly,
// bound to 127.0.0.1, with the RTP ports (also the ones it falls back to when nothing is mounted) from `rtpPort`.
// scripts/test.mjs checks that perl has RTSP::Server before a test that imports this runs (checkRtspServer).

import { type ChildProcess, spawn } from "node:child_process";

const SERVER = `
use strict; use warnings; use AnyEvent; use RTSP::Server;
my ($client, $source, $rtp) = @ARGV;
$RTSP::Server::RTP_START_PORT = $rtp;
my $srv = RTSP::Server->new(
  client_listen_address => '127.0.0.1', client_listen_port => $client,
  source_listen_address => '127.0.0.1', source_listen_port => $source,
  rtp_start_port => $rtp, log_level => 3);
$srv->listen;
$| = 1;
print "listening\\n";
my $cv = AnyEvent->condvar;
$SIG{TERM} = sub { $cv->send };
$cv->recv;
`;

export interface RtspServerPorts {
  /** Where clients (the job) read: rtsp://127.0.0.1:<client>/<path>. */
  client: number;
  /** Where publishers ANNOUNCE: rtsp://127.0.0.1:<source>/<path>. */
  source: number;
  /** First of the UDP ports the server relays RTP on (two per mounted stream, counting up). */
  rtpPort: number;
}

/** A server that can be stopped and started again on the same ports. */
export class RtspServer {
  private child: ChildProcess | undefined;
  log = "";
  constructor(readonly ports: RtspServerPorts) {}

  async start(): Promise<void> {
    const { client, source, rtpPort } = this.ports;
    const child = spawn("perl", ["-e", SERVER, String(client), String(source), String(rtpPort)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.log = "";
    child.stderr!.on("data", (d: Buffer) => {
      this.log += d.toString();
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`RTSP server not up: ${this.log}`)), 30_000);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`RTSP server exited (${code}): ${this.log}`));
      });
      child.stdout!.on("data", (d: Buffer) => {
        this.log += d.toString();
        if (this.log.includes("listening")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** Kills the server (every client and publisher connection drops). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }

  url(path: string, side: "client" | "source" = "client"): string {
    return `rtsp://127.0.0.1:${this.ports[side]}/${path}`;
  }
}
