"""The simulated rural territory: real communes, simulated equipment and devices.

Pure core: :mod:`.geography` (where things are), :mod:`.territory` (what exists),
:mod:`.sun`, :mod:`.weather`, :mod:`.profiles` (what each device measures at a given
time), :mod:`.scenario` (the scripted incidents), :mod:`.envelope` (ChirpStack v4
events) and :mod:`.schedule` (who sends when). I/O at the edges: :mod:`.communes`
(the bundled data), :mod:`.seeding` (entities into the store), :mod:`.sinks`
(in-process inbox, HTTP) and :mod:`.runner` / :mod:`.loadgen` (threads and clocks).
"""
