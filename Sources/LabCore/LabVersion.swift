import LabBase

/// The version every report, fortio file and `meshbench --version` carries.
public enum LabVersion {
    public static let current = "0.1.0"
}
