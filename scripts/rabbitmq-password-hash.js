#!/usr/bin/env node
'use strict';
/**
 * Prints the `password_hash` for a user entry of a RabbitMQ definitions file
 * (hashing_algorithm rabbit_password_hashing_sha256), e.g. for rabbitmq/dev-users.json or your own
 * production users file. The password is read from standard input, so it stays out of shell history
 * and the process list:   printf %s 'the-password' | node scripts/rabbitmq-password-hash.js
 * Needs the built code (`npm run build`).
 */
const path = require('node:path');
const { rabbitPasswordHash } = require(path.resolve(__dirname, '../dist/adapters/rabbitmq/definitions.js'));

const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (!password) {
    process.stderr.write('usage: printf %s PASSWORD | node scripts/rabbitmq-password-hash.js\n');
    process.exit(2);
  }
  process.stdout.write(`${rabbitPasswordHash(password)}\n`);
});
