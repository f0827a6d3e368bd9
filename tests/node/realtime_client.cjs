// The official Node SDK's Realtime WebSocket client (OpenAIRealtimeWS) through the tap:
// node realtime_client.cjs https://127.0.0.1:PORT/v1
// The SDK turns the https:// baseURL into wss://; NODE_EXTRA_CA_CERTS makes Node trust the CA.
// Prints one JSON line: the server event types it received, up to response.done.
const { OpenAI } = require('openai');
const { OpenAIRealtimeWS } = require('openai/realtime/ws');

const client = new OpenAI({ apiKey: 'sk-test-node-fake', baseURL: process.argv[2] });
const rt = new OpenAIRealtimeWS({ model: 'gpt-realtime' }, client);
const received = [];
const timer = setTimeout(() => fail(`timed out after ${JSON.stringify(received)}`), 15000);

function fail(message) {
  console.error(message);
  process.exit(1);
}

rt.on('error', (err) => fail(`realtime error: ${err.message}`));
rt.on('event', (event) => received.push(event.type));
rt.socket.on('open', () => {
  rt.send({ type: 'session.update', session: { type: 'realtime', output_modalities: ['text'] } });
  rt.send({
    type: 'conversation.item.create',
    item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hello from Node' }] },
  });
  rt.send({ type: 'response.create' });
});
rt.on('response.done', (event) => {
  clearTimeout(timer);
  console.log(JSON.stringify({ received, status: event.response.status }));
  rt.close();
});
