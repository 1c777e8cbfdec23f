// Drives a Trellis peer with two published JavaScript clients, as their
// users would (installed by tools/ipfs-install into .cache/js-ipfs):
//
//   node js_clients.js cluster-api REST_URL CID      ipfs-cluster-api 0.0.9
//   node js_clients.js pinning-service URL CID CID2  @ipfs-shipyard/pinning-service-client
//
// Prints one JSON line of what the client got back; exits non-zero with the
// reason when a call fails or returns something wrong.
'use strict'
const assert = require('assert')
const path = require('path')
const { createRequire } = require('module')
const { pathToFileURL } = require('url')

const home = process.env.TRELLIS_JSIPFS_HOME || path.join(__dirname, '..', '..', '.cache', 'js-ipfs')
const load = createRequire(path.join(home, 'package.json'))

// ipfs-cluster-api returns lists as an object stream (the server sends
// X-Chunked-Output), a single object, or an array: all become arrays.
function collect (value) {
  if (Array.isArray(value)) return Promise.resolve(value)
  if (value && typeof value.on === 'function') {
    return new Promise((resolve, reject) => {
      const out = []
      value.on('data', (d) => out.push(d))
      value.on('error', reject)
      value.on('end', () => resolve(out))
    })
  }
  return Promise.resolve(value === undefined ? [] : [value])
}

async function clusterApi (url, cid) {
  const u = new URL(url)
  const cluster = load('ipfs-cluster-api')({ host: u.hostname, port: u.port, protocol: 'http' })
  const id = await cluster.id()
  assert(id.id && Array.isArray(id.cluster_peers), 'id: ' + JSON.stringify(id))
  const peers = await collect(await cluster.peers.ls())
  assert(peers.length === id.cluster_peers.length, 'peers.ls: ' + JSON.stringify(peers))
  const added = await cluster.pin.add(cid, {
    replication: 2, name: 'from-js', 'meta-source': 'ipfs-cluster-api'
  })
  assert(added.cid === cid && added.allocations.length === 2, 'pin.add: ' + JSON.stringify(added))
  const ls = await collect(await cluster.pin.ls({ filter: 'pin' }))
  const mine = ls.find((p) => p.cid === cid)
  assert(mine && mine.name === 'from-js' && mine.metadata.source === 'ipfs-cluster-api',
    'pin.ls: ' + JSON.stringify(ls))
  const one = await cluster.status(cid)
  assert(one.cid === cid && Object.keys(one.peer_map).length === peers.length,
    'status(cid): ' + JSON.stringify(one))
  const all = await collect(await cluster.status())
  assert(all.some((g) => g.cid === cid), 'status(): ' + JSON.stringify(all))
  const recovered = await cluster.recover(cid)
  assert(recovered.cid === cid, 'recover: ' + JSON.stringify(recovered))
  await cluster.pin.rm(cid)
  const after = await collect(await cluster.pin.ls({ filter: 'pin' }))
  assert(!after.some((p) => p.cid === cid), 'pin.rm left it: ' + JSON.stringify(after))
  return { id: id.id, peers: peers.length, allocations: added.allocations, listed: ls.length }
}

async function pinningService (url, cid, cid2) {
  const entry = load.resolve('@ipfs-shipyard/pinning-service-client')
  const { Configuration, RemotePinningServiceClient } = await import(pathToFileURL(entry).href)
  const client = new RemotePinningServiceClient(
    new Configuration({ endpointUrl: url, accessToken: process.env.PINSVC_TOKEN || 'none' }))
  const added = await client.pinsPost({ pin: { cid, name: 'svc', meta: { app: 'trellis-test' } } })
  assert(added.requestid && added.pin.cid === cid && added.pin.name === 'svc',
    'add: ' + JSON.stringify(added))
  assert(['queued', 'pinning', 'pinned'].includes(added.status), 'add status: ' + added.status)
  const listed = await client.pinsGet({ meta: { app: 'trellis-test' }, limit: 10 })
  assert(listed.count === 1 && listed.results[0].requestid === added.requestid,
    'list by meta: ' + JSON.stringify(listed))
  const none = await client.pinsGet({ meta: { app: 'other' } })
  assert(none.count === 0, 'list by other meta: ' + JSON.stringify(none))
  const got = await client.pinsRequestidGet({ requestid: added.requestid })
  assert(got.pin.cid === cid, 'get: ' + JSON.stringify(got))
  const replaced = await client.pinsRequestidPost({
    requestid: added.requestid, pin: { cid: cid2, name: 'svc2' }
  })
  assert(replaced.pin.cid === cid2 && replaced.requestid !== added.requestid,
    'replace: ' + JSON.stringify(replaced))
  const afterReplace = await client.pinsGet({ cid: [cid, cid2] })
  assert(afterReplace.count === 1 && afterReplace.results[0].pin.cid === cid2,
    'list after replace: ' + JSON.stringify(afterReplace))
  await client.pinsRequestidDelete({ requestid: replaced.requestid })
  const gone = await client.pinsGet({ cid: [cid2] })
  assert(gone.count === 0, 'list after remove: ' + JSON.stringify(gone))
  let missing = 0
  try {
    await client.pinsRequestidGet({ requestid: replaced.requestid })
  } catch (res) {
    missing = res.status  // the client throws the fetch Response
  }
  assert(missing === 404, 'get after remove: ' + missing)
  return { requestid: added.requestid, replaced: replaced.requestid, status: added.status }
}

async function main () {
  const [mode, url, ...cids] = process.argv.slice(2)
  const run = { 'cluster-api': clusterApi, 'pinning-service': pinningService }[mode]
  if (!run || !url || cids.length === 0) {
    console.error('usage: js_clients.js cluster-api|pinning-service URL CID [CID2]')
    process.exit(2)
  }
  console.log(JSON.stringify(await run(url, ...cids)))
}

main().catch((e) => {
  console.error('FAILED: ' + (e && e.stack ? e.stack : JSON.stringify(e)))
  process.exit(1)
})
