/** `paradec bench-engine`: engine throughput against raw ONNX Runtime MatMul (src/bench/engine-speed.ts). */
export async function commandBenchEngine(_argv: string[]): Promise<void> {
  const { runEngineSpeedCommand } = await import('../bench/engine-speed.js');
  await runEngineSpeedCommand(_argv);
}
