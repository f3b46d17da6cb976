// The wasm core's exports as the host calls them: one function per export of assembly/index.ts
// (plus the memory), each taking and returning i32/u32 numbers; negative results are the ABI's
// error codes. Kept in a module of its own so that every host file that calls the core (the device
// facade, boot recovery, the benchmarks) depends on this type and not on each other.

export interface CoreExports {
  memory?: WebAssembly.Memory;
  abiVersion(): number;
  configImagePtr(): number;
  configImageBytes(): number;
  boot(imageBytes: number, nowMs: number): number;
  layoutEndOffset(): number;
  ramBytesConfigured(): number;
  statsPointer(): number;
  queryPointer(): number;
  bulkPointer(): number;
  bulkCapacity(): number;
  statsRefresh(): number;
  sectorAlloc(): number;
  sectorFree(id: number): number;
  sectorWrite(id: number, offsetBytes: number, value: number): number;
  sectorRead(id: number, offsetBytes: number): number;
  sectorLink(id: number, next: number): number;
  sectorNext(id: number): number;
  ramSectorsWithData(): number;
  streamSectorsWithData(): number;
  streamConfigure(source: number, sensor: number, recordType: number, dataType: number, sampleRateMs: number): number;
  streamFind(source: number, sensor: number): number;
  streamWriteTsd(stream: number, value: number, utcMs: number): number;
  streamWriteEvt(stream: number, value: number, utcMs: number): number;
  streamReadBulk(stream: number, max: number): number;
  streamPeek(stream: number, max: number): number;
  streamAck(stream: number, count: number): number;
  streamRevert(stream: number): number;
  streamQuery(stream: number): number;
  processMemory(nowMs: number): number;
  tierState(): number;
  flushAllToDisk(): number;
  flushProgress(): number;
  flushCancel(): number;
  cleanupComplete(): number;
  cleanupConfirm(slot: number, generation: number, status: number): number;
  cleanupForceAll(): number;
  pendingWorkCount(): number;
  cleanupPolicySet(policy: number): number;
  diskUsageOffsetSet(bytes: number): number;
  streamsConfigured(): number;
  ioBufferPtr(): number;
  ioBufferBytes(): number;
  recoveryPositions(length: number): number;
  recoveryFile(length: number): number;
  recoveryClose(): number;
  filePathOfSlot(slot: number): number;
  pathBufferPtr(): number;
  filesMaxConfigured(): number;
}
