'use strict';

const http = require('node:http');
const Redis = require('ioredis');
const pino = require('pino');
const client = require('prom-client');

const log = pino({ level: process.env.LOG_LEVEL || 'info', base: { service: 'shop-worker' } });

const QUEUE = process.env.ORDER_QUEUE || 'orders:created';
const NOTIFY_URL = process.env.NOTIFY_URL || 'http://notifications.internal:8080/v1/emails';
const METRICS_PORT = Number(process.env.METRICS_PORT || 9464);

const redis = new Redis({
  host: process.env.REDIS_HOST || 'localhost',
  port: Number(process.env.REDIS_PORT || 6379),
  password: process.env.REDIS_PASSWORD || undefined,
  maxRetriesPerRequest: null,
});

redis.on('error', (err) => log.error({ err }, 'redis connection error'));

client.collectDefaultMetrics();
const processed = new client.Counter({
  name: 'shop_worker_jobs_total',
  help: 'Order events processed by the worker, by result.',
  labelNames: ['result'],
});
const duration = new client.Histogram({
  name: 'shop_worker_job_duration_seconds',
  help: 'Time spent handling one order event.',
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
});

async function sendConfirmation(event) {
  const res = await fetch(NOTIFY_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ template: 'order-confirmation', customerId: event.customer_id, orderId: event.order_id }),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) {
    throw new Error(`notification service returned ${res.status}`);
  }
}

async function handle(raw) {
  const end = duration.startTimer();
  try {
    const event = JSON.parse(raw);
    await sendConfirmation(event);
    processed.inc({ result: 'ok' });
    log.info({ orderId: event.order_id }, 'order confirmation sent');
  } catch (err) {
    processed.inc({ result: 'error' });
    log.error({ err, raw }, 'failed to process order event');
  } finally {
    end();
  }
}

async function run() {
  log.info({ queue: QUEUE }, 'worker started');
  for (;;) {
    const item = await redis.brpop(QUEUE, 5);
    if (item) {
      await handle(item[1]);
    }
  }
}

http
  .createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('content-type', client.register.contentType);
      res.end(await client.register.metrics());
      return;
    }
    res.statusCode = 404;
    res.end();
  })
  .listen(METRICS_PORT, () => log.info({ port: METRICS_PORT }, 'metrics server listening'));

run().catch((err) => {
  log.fatal({ err }, 'worker crashed');
  process.exit(1);
});
