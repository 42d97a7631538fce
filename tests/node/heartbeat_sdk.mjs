// Drives the npm-published @tickstem/heartbeat@0.2.0 against the server named by TICKSTEM_BASE_URL
// (ending in /v1) and prints one JSON object with what each call returned, for pytest to check.
import { HeartbeatClient } from "@tickstem/heartbeat"

const client = new HeartbeatClient(process.env.TICKSTEM_API_KEY, { baseURL: process.env.TICKSTEM_BASE_URL })
const out = {}

const created = await client.create({ name: "daily backup", interval_secs: 86400, grace_secs: 3600 })
out.created = created
out.updated = await client.update(created.id, { name: "weekly backup", interval_secs: 604800 })
out.paused = await client.pause(created.id)
out.pingWhilePaused = await client.ping(created.token)
out.resumed = await client.resume(created.id)
out.pingResult = await client.ping(created.token)
out.got = await client.get(created.id)
out.list = await client.list()
out.pings = await client.pings(created.id, { limit: 50 })
out.deleted = await client.delete(created.id)
try {
  await client.get(created.id)
  out.afterDelete = "still there"
} catch (err) {
  out.afterDelete = { name: err.name, statusCode: err.statusCode, message: err.message }
}
try {
  await client.ping(created.token)
  out.pingAfterDelete = "accepted"
} catch (err) {
  out.pingAfterDelete = { name: err.name, statusCode: err.statusCode, message: err.message }
}
console.log(JSON.stringify(out))
