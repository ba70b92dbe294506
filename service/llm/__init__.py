"""Chat model backends: the contract (:mod:`.base`), the registry, and openai / local / fake.

Import concrete backends through :func:`service.llm.registry.create_backend`, which imports
the OpenAI SDK or llama.cpp only when that backend is chosen.
"""
