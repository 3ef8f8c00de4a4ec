"""Talks to the prediction server with tritonclient's HTTP client (the Open Inference Protocol's
own client, not ours) and prints what it saw as one JSON object, for test/serving/open-inference.test.ts.

Usage: python3 oip_client.py HOST:PORT MODEL VERSION IMAGE_BASE64
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

url, model, version, image_b64 = sys.argv[1:5]
client = httpclient.InferenceServerClient(url=url)
seen = {
    "live": client.is_server_live(),
    "ready": client.is_server_ready(),
    "model_ready": client.is_model_ready(model),
    "missing_model_ready": client.is_model_ready("no-such-model"),
    "server": client.get_server_metadata(),
    "metadata": client.get_model_metadata(model),
}


def tensor(name, values, datatype):
    array = np.array(values, dtype=np.object_ if datatype == "BYTES" else np.float32).reshape(len(values), 1)
    item = httpclient.InferInput(name, list(array.shape), datatype)
    item.set_data_from_numpy(array, binary_data=False)
    return item


rows = 3
inputs = [
    tensor("advertiser", ["acme", "globex", "acme"], "BYTES"),
    tensor("category", ["shoes", "travel", "travel"], "BYTES"),
    tensor("placement", ["feed", "sidebar", "feed"], "BYTES"),
    tensor("device", ["mobile", "desktop", "mobile"], "BYTES"),
    tensor("hour", [13, 2, 23], "FP32"),
    tensor("headline_length", [42, 10, 80], "FP32"),
    tensor("image", [image_b64] * rows, "BYTES"),
]
outputs = [
    httpclient.InferRequestedOutput("click_probability", binary_data=False),
    httpclient.InferRequestedOutput("prediction_id", binary_data=False),
]
for key, kwargs in (("split", {}), ("pinned", {"model_version": version})):
    result = client.infer(model, inputs, outputs=outputs, request_id="req-7", **kwargs)
    response = result.get_response()
    seen[key] = {
        "model_version": response.get("model_version"),
        "id": response.get("id"),
        "probabilities": result.as_numpy("click_probability").reshape(-1).tolist(),
        "prediction_ids": [value.decode() if isinstance(value, bytes) else value for value in result.as_numpy("prediction_id").reshape(-1).tolist()],
    }

# A mistyped column: the client raises the server's error message.
try:
    others = [item for item in inputs if item.name() != "hour"]
    client.infer(model, others + [tensor("hour", ["late", "soon", "now"], "BYTES")], outputs=outputs)
    seen["mistyped"] = None
except InferenceServerException as error:
    seen["mistyped"] = {"status": error.status(), "message": error.message()}

print(json.dumps(seen))
