#!/usr/bin/env node
import { main } from './main';

const code = await main(process.argv.slice(2));
process.exitCode = code;
// A command that ends normally leaves nothing running and Node exits now. One that gave up waiting (a worker whose
// sends did not finish within --stop-timeout, a second Ctrl-C) still has sockets open: exit anyway, shortly.
setTimeout(() => process.exit(code), code === 0 ? 2000 : 200).unref();
