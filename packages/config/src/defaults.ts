// Every default of a setting, stated once. The role schemas use them, and so do the libraries for options a
// caller leaves out (the producer, the worker, the queue), so a library run and a deployed role agree.

/** A deployment prefix: letters, digits, _ and -, optionally in braces (a Redis Cluster hash tag). */
export const PREFIX_PATTERN = /^(?:[A-Za-z0-9_-]+|\{[A-Za-z0-9_-]+\})$/;

export const COMMON_DEFAULTS = {
  redisUrl: "redis://127.0.0.1:6379",
  /** Key prefix of a deployment's Redis keys and queues. */
  prefix: "vdet",
  logLevel: "info",
} as const;

export const QUEUE_DEFAULTS = {
  /** How long a consumer owns a message it is handling (renewed while it runs). */
  lockDurationMs: 60_000,
  /** How often a queue is checked for messages of crashed consumers. */
  stalledIntervalMs: 30_000,
  /**
   * How long a finished job message stays in the jobs queue (visible in bull-board, /admin/queues), seconds; at
   * most 10 000 are kept. 0: removed at once.
   */
  keepFinishedJobsSeconds: 86_400,
  /** BullMQ priority of a job message (1 is the highest). */
  priority: 5,
  /**
   * How many frame queues and results queues a deployment spreads its work over (each on its own Redis Cluster
   * hash tag; every worker consumes them all). More than 1 needs the hash-tagged key layout of a Redis Cluster.
   */
  partitions: 1,
} as const;

/** A Redis URL: one server (redis://, rediss:// for TLS) or a Redis Cluster's seed nodes (redis+cluster://). */
export const REDIS_URL_PATTERN = /^rediss?(?:\+cluster)?:\/\//;

export const API_DEFAULTS = {
  host: "0.0.0.0",
  port: 8080,
  maxActiveJobs: 10_000,
  bodyLimitBytes: 64 * 1024,
  metricsIntervalSeconds: 60,
  /** A request (headers and body) must arrive within this; a slow body is cut off with 408. */
  requestTimeoutMs: 30_000,
  /** A connection with no traffic in either direction is closed after this. */
  connectionTimeoutMs: 120_000,
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: 5_000,
} as const;

export const PRODUCER_DEFAULTS = {
  framesPerChunk: 4,
  /**
   * Sampled frames per segment of a latency job (re-readable inputs): fewer messages per frame against finer
   * fan-out and an earlier first result.
   */
  segmentFrames: 256,
  /** Seconds of video per segment at most (whichever of the two limits comes first ends a segment). */
  segmentSeconds: 10,
  /**
   * The same two limits for archive jobs (no latency budget). A segment costs Redis about 45 commands whatever its
   * length (its BullMQ message's life cycle ≈ 36, the in-flight accounting, its results on a stream), so archive
   * segments are large: ≈ 0.03 commands per sampled frame at 2048 frames. Fan-out stays: a 24-hour video is
   * hundreds of segments, a 10-minute one 5 to 9. VDET_SEGMENT_FRAMES, when set, applies to both kinds of job.
   */
  archiveSegmentFrames: 2048,
  archiveSegmentSeconds: 120,
  /** Segments of one job queued and not yet reported before planning waits (a blocking pop, no polling). */
  maxSegmentsInFlight: 64,
  /** A partly filled chunk is sent after this long. */
  maxChunkDelayMs: 1000,
  maxFramesInFlight: 64,
  maxQueuedChunks: 256,
  frameTtlSeconds: 3600,
  concurrency: 2,
  maxWidth: 7680,
  maxHeight: 4320,
  maxFrames: 1_000_000,
  maxDurationSeconds: 24 * 3600,
  maxInputBytes: 50 * 2 ** 30,
  inputTimeoutMs: 30_000,
} as const;

/** Live inputs (HLS, RTSP): recording, the low-latency frame path, reconnecting. */
export const LIVE_DEFAULTS = {
  /** Recorded segments are cut at the first keyframe after this many seconds (one GOP when GOPs are longer). */
  segmentSeconds: 1,
  /** A recorded segment waits in the frame store this long for a worker, seconds. */
  segmentTtlSeconds: 600,
  /** Recorded segments of one job queued and not yet reported before recording waits (blocking pop). */
  maxSegmentsInFlight: 16,
  /** Low-latency path: JPEG quality of the frames sent to the workers (1–100). */
  jpegQuality: 85,
  reconnect: {
    initialDelayMs: 500,
    maxDelayMs: 30_000,
    factor: 2,
    jitter: 0.3,
    /** 10 minutes without the source ends the job. */
    giveUpAfterMs: 600_000,
    keepTracksGapMs: 5_000,
  },
} as const;

export const WORKER_DEFAULTS = {
  maxBatch: 4,
  /** Segments a worker decodes at once (each one ffmpeg): one feeds the model while the next seeks. */
  segmentConcurrency: 2,
  maxDelayMs: 20,
  executionProvider: "cpu",
  seed: 0,
  preload: "0",
  /** Longer than the other roles': a batch of a large φ on a busy CPU can take many seconds. */
  lockDurationMs: 120_000,
  profile: "cached",
  /** A cached latency profile older than this is measured again at start-up, hours. */
  profileMaxAgeHours: 168,
  /**
   * When live batch times drift from the cached profile by more than this factor (either way), the cache is
   * replaced by the live measurements, so the next worker does not start from a profile taken under other load.
   */
  profileDriftRatio: 1.5,
} as const;

export const AGGREGATOR_DEFAULTS = {
  /** tracks.jsonl is written (and checkpointed) in parts of about this size. */
  tracksPartBytes: 1024 * 1024,
} as const;

export const S3_DEFAULTS = {
  /** The region when a custom endpoint is set and none is given (MinIO, s3rver ignore it). */
  customEndpointRegion: "us-east-1",
  /** Attempts per request, the first included. */
  maxAttempts: 6,
  idleTimeoutMs: 30_000,
  connectionTimeoutMs: 5_000,
} as const;
