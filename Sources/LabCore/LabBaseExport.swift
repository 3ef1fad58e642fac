// What the lab's modules share without Foundation (LabBase), visible to every client of LabCore.
@_exported import LabBase
