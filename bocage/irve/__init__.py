"""EV charging stations from the French IRVE feeds (schema.data.gouv.fr, etalab/schema-irve).

The *static* file (one row per charging point: station, operator, location,
sockets) and the *dynamic* file (one row per charging point: in service? free?)
become ``EVChargingStation`` entities (Smart Data Models, dataModel.Transportation).
Rows are checked against the bundled table schemas (``schemas/``) before anything
is written: a file with a bad row is refused whole, with every problem and its
line number.
"""
