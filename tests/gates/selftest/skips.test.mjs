// The skip gate's self-test (scripts/test.sh runs it through the skip
// reporter; check-skips must fail on it).  Not a test of restsync.
import { test } from 'node:test';

test('gate self-test: skipped because the environment sets a key', (t) => {
  t.skip('RESTSYNC_SECRET_KEY is set');
});
test('gate self-test: skipped without a reason', { skip: true }, () => {});
test('gate self-test: runs', () => {});
