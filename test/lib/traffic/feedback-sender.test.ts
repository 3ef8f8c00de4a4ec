import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFeedbackSender } from '../../../lib/traffic/feedback-sender';

let body = '';
let server: http.Server;
let baseUrl: string;

const groundTruth = new Map([
  ['ad-1', 1],
  ['ad-2', 0],
]);

void describe('startFeedbackSender', () => {
  before(async () => {
    server = http.createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  void it('counts the labels the server accepted', async () => {
    body = JSON.stringify({ accepted: 2 });
    const sender = startFeedbackSender({ baseUrl, groundTruth, delayMs: 0 });
    sender.observe('ad-1', 'p-1');
    sender.observe('ad-2', 'p-2');
    sender.observe('ad-unknown', 'p-3');
    assert.deepEqual(await sender.stop(), { sent: 2, accepted: 2 });
  });

  void it('counts a garbage response as not accepted and keeps sending', async () => {
    body = '{"accepted": 2'; // truncated JSON
    const sender = startFeedbackSender({ baseUrl, groundTruth, delayMs: 0 });
    sender.observe('ad-1', 'p-1');
    // Let the interval flush on its own: its failure used to reject the chain stop() awaits.
    await sleep(400);
    sender.observe('ad-2', 'p-2');
    await sleep(400);
    body = 'null';
    sender.observe('ad-1', 'p-3');
    assert.deepEqual(await sender.stop(), { sent: 3, accepted: 0 });
  });
});
